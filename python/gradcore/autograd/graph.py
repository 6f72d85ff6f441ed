"""The recorded graph made visible: ``print_graph`` (an indented tree) and ``to_dot`` / ``render``
(Graphviz, in the look of torchviz's ``make_dot``).

Every node is a ``grad_fn``: ``name()`` is PyTorch's node name (``AddmmBackward0``),
``next_functions`` the edges to its inputs' nodes (an ``AccumulateGrad`` per leaf that requires
grad), ``metadata`` a dict, and ``_saved_<name>`` (``_saved_self``, ``_saved_result``, ...) the
tensors it holds for backward. A storage saved by several nodes (or twice by one) is counted once
in the bytes held. Tools walking the graph can use what these functions use:
``node._output_meta()`` (shape and dtype of its output 0; a leaf's for ``AccumulateGrad``) and
``node._saved_info()`` (``[(name, tensor, storage id, storage bytes)]`` without unpacking).
"""
import sys

from .. import _C

__all__ = ["Node", "print_graph", "to_dot", "render"]

Node = _C.Node


def _roots(t):
    if t.grad_fn is not None:
        return t.grad_fn
    if t.requires_grad:
        raise ValueError("print_graph: the tensor is a leaf (it has no grad_fn): there is no recorded graph to show")
    raise ValueError("print_graph: the tensor does not require grad, so no graph was recorded. Hint: compute it "
                     "from tensors with requires_grad=True, outside no_grad()")


def _shape(size):
    return "[" + ", ".join(str(s) for s in size) + "]"


def _dtype(dt):
    return str(dt).replace("gradcore.", "")


def _nbytes(n):
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _param_names(params):
    return {id(p): name for name, p in (params or {}).items()}


def _children(fn):
    return [f for f, _ in fn.next_functions if f is not None]


class _Seen(dict):
    """Nodes by identity. Holding each Python node object keeps its id() from being reused while
    the walk runs (next_functions makes them on demand)."""

    def add(self, fn, value):
        self[id(fn)] = (fn, value)

    def get_value(self, fn):
        return self[id(fn)][1] if id(fn) in self else None


def print_graph(t, file=None, params=None):
    """Prints the graph recorded for ``t`` as an indented tree, one node per line: its name, the
    shape and dtype of its output, what it saved (name, shape, dtype) and the bytes that holds. A
    node reached again (a shared subgraph) is printed once, then referred to by its ``#number``.
    Leaves are ``AccumulateGrad`` with the parameter's shape (and name, given
    ``params=dict(model.named_parameters())``). Ends with the total of bytes held, each storage
    counted once."""
    out = sys.stdout if file is None else file
    names = _param_names(params)
    number = _Seen()
    storages = {}
    stack = [(_roots(t), 0)]
    while stack:
        fn, depth = stack.pop()
        pad = "  " * depth
        k = number.get_value(fn)
        if k is not None:
            print(f"{pad}{fn.name()} #{k} (see above)", file=out)
            continue
        k = len(number)
        number.add(fn, k)
        shape, dtype = fn._output_meta()
        line = f"{pad}{fn.name()} #{k} {_shape(shape)} {_dtype(dtype)}"
        if fn.name() == "AccumulateGrad":
            name = names.get(id(fn.variable))
            if name:
                line += f" {name}"
        saved = fn._saved_info()
        if saved:
            held = {sid: nb for _, _, sid, nb in saved}
            storages.update(held)
            items = ", ".join(f"{name}{_shape(s.shape)} {_dtype(s.dtype)}" for name, s, _, _ in saved)
            line += f" saved: {items} ({_nbytes(sum(held.values()))})"
        print(line, file=out)
        for child in reversed(_children(fn)):
            stack.append((child, depth + 1))
    total = sum(storages.values())
    print(f"{len(number)} nodes; saved tensors hold {_nbytes(total)} ({total} bytes) in {len(storages)} storages",
          file=out)


def _size_str(size):
    return "(" + ", ".join(str(s) for s in size) + ")"


def _quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(t, params=None, show_saved=False):
    """Returns the graph recorded for ``t`` as Graphviz DOT text, as torchviz's ``make_dot`` draws
    it: ops gray, leaves light blue (named from ``params=dict(model.named_parameters())``), the
    output green and, with ``show_saved``, each saved tensor orange beside the node holding it."""
    names = _param_names(params)
    lines = ["digraph {",
             '\tgraph [size="12,12"]',
             "\tnode [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 shape=box style=filled]"]
    ids = _Seen()

    def node_id(fn):
        if ids.get_value(fn) is None:
            ids.add(fn, f"n{len(ids)}")
        return ids.get_value(fn)

    root = _roots(t)
    lines.append(f"\tout [label={_quote(_size_str(t.shape))} fillcolor=darkolivegreen1]")
    lines.append(f"\t{node_id(root)} -> out")
    seen = _Seen()
    stack = [root]
    while stack:
        fn = stack.pop()
        if seen.get_value(fn):
            continue
        seen.add(fn, True)
        me = node_id(fn)
        if fn.name() == "AccumulateGrad":
            v = fn.variable
            label = f"{names.get(id(v), '')}\n {_size_str(v.shape)}"
            lines.append(f"\t{me} [label={_quote(label)} fillcolor=lightblue]")
        else:
            lines.append(f"\t{me} [label={_quote(fn.name())}]")
        if show_saved:
            for k, (name, s, _, _) in enumerate(fn._saved_info()):
                sid = f"{me}_s{k}"
                lines.append(f"\t{sid} [label={_quote(name + chr(10) + ' ' + _size_str(s.shape))} fillcolor=orange]")
                lines.append(f"\t{me} -> {sid} [dir=none]")
        for child in _children(fn):
            lines.append(f"\t{node_id(child)} -> {me}")
        stack.extend(reversed(_children(fn)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(t, params=None, show_saved=False):
    """``to_dot`` as a ``graphviz.Source`` (display it in a notebook, or ``.render(filename)``).
    Needs the ``graphviz`` Python package (and Graphviz's ``dot`` program to draw files)."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError("gradcore.autograd.graph.render needs the 'graphviz' Python package: pip install graphviz "
                          "(or use to_dot(), which returns the DOT text without it)") from e
    return graphviz.Source(to_dot(t, params=params, show_saved=show_saved))
