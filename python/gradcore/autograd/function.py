"""Custom differentiable operations: ``gradcore.autograd.Function``, as in torch.autograd.Function.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_y):
            y, = ctx.saved_tensors
            return grad_y * y

    y = Exp.apply(x)

``apply`` runs ``forward`` under ``no_grad`` and records one graph node (C++ ``PyFunctionNode``,
csrc/bind/function.cpp) whose backward calls ``backward`` with one gradient per output, and
expects one gradient (or None) per argument of ``forward``.

Tensors needed in backward go through ``ctx.save_for_backward``: they are checked for in-place
changes and, for outputs, saved without a reference cycle. Tensors stored directly as ctx
attributes are kept as they are; storing an *output* there makes the graph own itself, so it is
never freed (PyTorch documents the same rule).
"""
import functools
import inspect

from .. import _C
from .._C import Tensor
from .grad_mode import no_grad


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``; any attribute may be set on it."""

    # Class-level defaults: most functions set few of them, so instances stay small.
    to_save = None
    non_differentiable = None
    dirty_tensors = None
    materialize_grads = True
    _saved_ref = None

    def save_for_backward(self, *tensors):
        """Saves tensors (or None) for ``backward``, where ``ctx.saved_tensors`` returns them."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors or None, but argument {i} is of type "
                                f"{type(t).__name__}. Hint: store other values as attributes, e.g. ctx.k = k")
        self.to_save = tensors

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, as a tuple. Raises RuntimeError after the
        graph was freed by a backward without ``retain_graph=True``, or when a saved tensor was
        modified in place since it was saved."""
        if self._saved_ref is None:
            return ()
        return self._saved_ref.unpack()

    def mark_non_differentiable(self, *tensors):
        """Marks outputs as not differentiable: they get ``requires_grad=False``, and ``backward``
        receives zeros (or None without materialized grads) for them."""
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors):
        """Marks inputs that ``forward`` modified in place (they must also be returned)."""
        self.dirty_tensors = tensors

    def set_materialize_grads(self, value):
        """With ``False``, ``backward`` receives None, instead of zeros, for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class BackwardCFunction(FunctionCtx):
    """Base of each Function's ctx class ``<Name>Backward``."""
    _forward_cls = None


class _FunctionMeta(type):
    """Gives each Function subclass its ctx class, named ``<Name>Backward`` as in PyTorch."""

    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        super().__init__(name, bases, attrs)


class Function(FunctionCtx, metaclass=_FunctionMeta):
    """Base class for custom autograd operations: subclass it with static ``forward(ctx, *args)``
    and ``backward(ctx, *grad_outputs)`` and call ``Fn.apply(*args)``.

    Alternatively ``forward(*args)`` without ctx plus ``setup_context(ctx, inputs, output)``.
    """

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: legacy autograd functions with a non-static forward are not "
                           f"supported. Hint: make forward and backward @staticmethods and call "
                           f"{type(self).__name__}.apply(...)")

    @staticmethod
    def forward(*args, **kwargs):
        """Computes the outputs; runs under no_grad."""
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Optional: save what backward needs when forward does not take a ctx."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Gradients w.r.t. each argument of forward (None where none), given one per output."""
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def _backward_fn(cls):
        has_backward = cls.backward is not Function.backward
        has_vjp = cls.vjp is not Function.vjp
        if has_backward and has_vjp:
            raise RuntimeError(f"{cls.__name__}: implementing both 'backward' and 'vjp' for a custom Function is not "
                               "allowed. You should only implement one of them.")
        return cls.vjp if has_vjp else cls.backward

    @classmethod
    def apply(cls, *args, **kwargs):
        """Runs forward and records the node; returns forward's outputs (tensors joined to the graph)."""
        setup = cls.setup_context is not Function.setup_context
        if setup:
            # Keyword arguments become positional inputs (setup_context sees them all).
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, {}
        ctx = cls._backward_cls()
        grad_on = _C.functions.is_grad_enabled()
        ctx.needs_input_grad = tuple(grad_on and isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            if setup:
                output = cls.forward(*args)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        try:
            return _C._function_record(cls, ctx, cls._backward_fn(), args, output, ctx.to_save,
                                       ctx.non_differentiable, ctx.dirty_tensors, ctx.materialize_grads)
        finally:
            # These may hold outputs; once recorded, keeping them would let the graph own itself.
            ctx.to_save = ctx.non_differentiable = ctx.dirty_tensors = None


def once_differentiable(fn):
    """Decorator for a ``backward`` that is not itself differentiable. gradcore never builds a
    graph of the backward pass, so it only runs ``fn`` under ``no_grad``."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
