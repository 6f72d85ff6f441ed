"""Collation: turning a list of samples into a batch, with PyTorch's rules.

``default_collate`` maps, by the type of the first sample:

* Tensor -> ``gradcore.stack(batch, 0)``
* NumPy array -> a tensor per array, then stacked; a NumPy scalar -> a tensor of the batch
* float -> float64 tensor, int -> int64 tensor, bool -> bool tensor
* str / bytes -> the list unchanged
* Mapping -> the same mapping type, each key collated
* namedtuple -> the same namedtuple, each field collated
* other Sequence -> transposed and each position collated; a tuple becomes a list (as PyTorch)

Extend it by adding ``{type: fn(batch, *, collate_fn_map)}`` to a copy of
``default_collate_fn_map`` and calling ``collate(batch, collate_fn_map=...)``.
"""
import collections.abc
import copy
import re

import numpy as np

import gradcore

_np_str_obj_dtype = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}")


def collate(batch, *, collate_fn_map=None):
    """Collates ``batch`` (a list of samples) recursively, dispatching leaf types through
    ``collate_fn_map`` (exact type first, then the first ``isinstance`` match in insertion order)."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        fields = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                out = copy.copy(elem)  # keeps the mapping type and its extra attributes
                out.update(fields)
                return out
            return elem_type(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(list(samples), collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size "
                               f"(got lengths {sorted({len(e) for e in batch})})")
        columns = [collate(list(samples), collate_fn_map=collate_fn_map) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # PyTorch returns a list for tuples (backwards compatibility)
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                out = copy.copy(elem)
                for i, c in enumerate(columns):
                    out[i] = c
                return out
            return elem_type(columns)
        except TypeError:
            return columns
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    return gradcore.stack(batch, 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    if _np_str_obj_dtype.search(batch[0].dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(batch[0].dtype))
    return collate([gradcore.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return gradcore.as_tensor(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return gradcore.tensor(batch, dtype=gradcore.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return gradcore.tensor(batch)  # int64, or bool for a batch of bools


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    gradcore.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,  # before float: np.float64 is a float
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Stacks a list of samples into a batch (see the module docstring for the rules).

    >>> default_collate([(gradcore.tensor([1., 2.]), 0), (gradcore.tensor([3., 4.]), 1)])
    [tensor([[1., 2.], [3., 4.]]), tensor([0, 1])]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Converts NumPy arrays (also inside mappings and sequences) to tensors and leaves everything
    else unchanged: the collation used when automatic batching is off (``batch_size=None``)."""
    elem_type = type(data)
    if isinstance(data, gradcore.Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_", "string_"):
        if isinstance(data, np.ndarray) and _np_str_obj_dtype.search(data.dtype.str) is not None:
            return data
        return gradcore.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                out = copy.copy(data)
                out.update(fields)
                return out
            return elem_type(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        items = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                out = copy.copy(data)
                for i, d in enumerate(items):
                    out[i] = d
                return out
            return elem_type(items)
        except TypeError:
            return items
    return data
