"""``RemovableHandle``: what registering a Python-side hook returns (module forward hooks, optimizer
step hooks), as ``torch.utils.hooks.RemovableHandle``: ``remove()`` takes the hook out of every dict
it was put in, and the handle works as a context manager that removes the hook on exit."""
import weakref
from collections import OrderedDict

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """A handle that removes a hook from the dict(s) it was registered in. The dicts are held
    weakly, so a handle never keeps its module or optimizer alive."""

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        extras = [] if extra_dict is None else (extra_dict if isinstance(extra_dict, list) else [extra_dict])
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self):
        """Removes the hook; removing twice is harmless."""
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, tb):
        self.remove()


def own_dict(obj, name):
    """``obj``'s own hook dict ``name``, created on first use. Classes keep an empty class-level
    dict under the same name, so an object without hooks costs one test where they would run."""
    d = obj.__dict__.get(name)
    if d is None:
        d = OrderedDict()
        object.__setattr__(obj, name, d)  # past Module.__setattr__'s registration
    return d


def register(hooks, hook, *, prepend=False, extra=None):
    """Adds ``hook`` to the ordered dict ``hooks`` (first when ``prepend``) and returns its handle;
    ``extra`` is a dict keyed like ``hooks`` that the handle also cleans (e.g. per-hook flags)."""
    handle = RemovableHandle(hooks, extra_dict=extra)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle
