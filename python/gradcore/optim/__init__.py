"""gradcore.optim: PyTorch's optimizers and learning-rate schedulers.

    import gradcore.optim as optim
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

Each optimizer keeps PyTorch's param groups, state and state_dict layout in Python and updates a
whole param group with one native call (``gradcore._C._<name>_step``): one fused pass per
parameter, with PyTorch's formulas. NAdam, RAdam, Adadelta and LBFGS are written in Python with
gradcore tensor ops (a handful per parameter and step)."""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "NAdam", "RAdam", "LBFGS",
           "lr_scheduler"]
