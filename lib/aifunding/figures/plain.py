"""A figure's plotly JSON made with plotly's own validators but without its object tree.

``go.Figure(spec)`` checks every property through a tree of plotly objects (a parent link, a deep
copy and an equality check per property), about 20 to 120 ms a figure here: most of a filter rerun,
which draws up to nine of them. :func:`plain_figure` gives the dict ``go.Figure(spec).to_dict()``
gives (same values, same key order, the default template, numeric arrays base64-encoded), calling
the same validator on every value, in a few milliseconds. A spec using anything it does not handle
(a plotly object inside, a property plotly does not know) goes through ``go.Figure`` itself, so
nothing is ever drawn unchecked and errors read as plotly's.

:class:`Figure` is the ``go.Figure`` the chart builders return: it hands the dashboard (``to_dict``,
which ``st.plotly_chart`` reads) this dict, and becomes a real, validated ``go.Figure`` the first
time anything else is asked of it. ``tests/test_plain_figure.py`` checks both paths give one JSON.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import math
import threading
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from _plotly_utils.basevalidators import (
    CompoundArrayValidator,
    CompoundValidator,
    DataArrayValidator,
    TitleValidator,
)
from _plotly_utils.utils import convert_to_base64, is_homogeneous_array, is_skipped_key, to_typed_array_spec
from plotly.basedatatypes import BasePlotlyType
from plotly.graph_objs import Layout
from plotly.validator_cache import ValidatorCache

# Trace types the builders draw: any other goes through go.Figure.
TRACE_CLASSES: dict[str, type[BasePlotlyType]] = {"bar": go.Bar, "scatter": go.Scatter}


class Unsupported(Exception):
    """The spec holds something :func:`plain_figure` does not copy plotly's handling of."""


_ORDERS: dict[type, tuple[str, ...]] = {}


def _property_order(cls: type[BasePlotlyType]) -> tuple[str, ...]:
    """The order plotly sets ``cls``'s properties in: its constructor's parameters (after ``arg``)."""
    if cls not in _ORDERS:
        names = inspect.signature(cls.__init__).parameters
        _ORDERS[cls] = tuple(name for name in names if name not in ("self", "arg", "skip_invalid", "kwargs"))
    return _ORDERS[cls]


def _object(cls: type[BasePlotlyType], values: dict[str, Any]) -> dict[str, Any]:
    """``cls(values)._props``: each value set in plotly's order, through its own validator."""
    order = _property_order(cls)
    known = set(order)
    extra = [name for name in values if name not in known]
    if extra and not (cls is Layout and all(Layout._subplotid_prop_re.fullmatch(name) for name in extra)):
        raise Unsupported(f"{cls.__name__}: {extra}")
    result: dict[str, Any] = {}
    # Subplot axes (xaxis2) are set after the named properties, in the order given, as plotly sets them.
    for name in (*(name for name in order if name in values), *extra):
        value = values[name]
        if value is None:
            continue
        coerced = _value(ValidatorCache.get_validator(cls._path_str, name), value)
        if coerced is not None:
            result[name] = coerced
    return result


def _value(validator: Any, value: Any) -> Any:
    """What plotly keeps of ``value`` set through ``validator`` (None: nothing, as for an empty object)."""
    if isinstance(value, BasePlotlyType):
        raise Unsupported(type(value).__name__)
    if isinstance(validator, CompoundValidator):
        if isinstance(validator, TitleValidator) and isinstance(value, str | int | float):
            value = {"text": value}
        if not isinstance(value, dict):
            raise Unsupported(f"{validator.plotly_name}: {type(value).__name__}")
        if all(type(item) in _CHECKABLE for item in value.values()):
            return _checked_object(validator, value)
        return _object(validator.data_class, value) or None
    if isinstance(validator, CompoundArrayValidator):
        if not isinstance(value, list | tuple) or not all(isinstance(item, dict) for item in value):
            raise Unsupported(f"{validator.plotly_name}: {type(value).__name__}")
        return [_object(validator.data_class, item) for item in value] or None
    if type(validator) is DataArrayValidator:
        plain = _plain_array(value)
        if plain is not None:
            return plain
    if type(value) in _CHECKABLE:
        return _checked(validator, value)
    coerced = validator.validate_coerce(value)
    # A value plotly keeps as given (a dict in ``meta``) is copied: the spec is never changed here.
    return _copied(coerced) if coerced is value and isinstance(value, dict | list) else coerced


# Scalars a validator has already taken, by validator, type and value (True, 1 and 1.0 are kept apart), with what
# it made of them: the charts of one view set the same anchors, colours, sizes and flags hundreds of times (every
# annotation, every trace), and a validator's answer for a scalar is always the same. Errors are never kept.
# A float's sign is part of its key: 0.0 and -0.0 are equal, but plotly keeps each as given.
_CHECKABLE = frozenset({str, int, float, bool})
_CHECKED: dict[tuple[Any, type, Any], Any] = {}
KEPT_CHECKS = 20_000


def _as_key(value: Any) -> tuple[Any, ...]:
    """A scalar as a key that tells apart what compares equal: its type, and a float's sign (0.0 and -0.0)."""
    if type(value) is float:
        return float, value, math.copysign(1.0, value)
    return type(value), value


def _checked(validator: Any, value: Any) -> Any:
    """``validator.validate_coerce(value)`` for a scalar, asked of plotly once per validator and value."""
    key = (validator, *_as_key(value))
    try:
        return _CHECKED[key]
    except KeyError:
        pass
    coerced = validator.validate_coerce(value)
    if type(coerced) not in _CHECKABLE:
        return coerced  # a scalar plotly makes into a list (a colour scale's name): each figure its own
    if len(_CHECKED) >= KEPT_CHECKS:
        _CHECKED.clear()  # names and amounts vary without end; anchors and colours come back at once
    _CHECKED[key] = coerced
    return coerced


def _checked_object(validator: Any, value: dict[str, Any]) -> dict[str, Any] | None:
    """``_object`` of a small object of scalars (a font, a marker's colour), made once per validator and value.

    Each is a copy: what one figure holds is never another's.
    """
    key = (validator, *((name, *_as_key(item)) for name, item in value.items()))
    try:
        made = _CHECKED[key]
    except KeyError:
        made = _object(validator.data_class, value) or None
        if made is not None and not all(type(item) in _CHECKABLE for item in made.values()):
            return made
        if len(_CHECKED) >= KEPT_CHECKS:
            _CHECKED.clear()
        _CHECKED[key] = made
    return None if made is None else dict(made)


# Values plotly's data-array validator passes through as they are (``to_scalar_or_list`` of each is itself).
_SCALARS = frozenset({str, float, int, bool, type(None)})


def _scalars(value: Any) -> list[Any] | None:
    """``value``'s items, flattened one level, when it is a list or tuple of scalars or of lists/tuples of them."""
    if type(value) not in (list, tuple):
        return None
    kinds = set(map(type, value))
    if kinds <= _SCALARS:
        return list(value)
    if kinds <= {list, tuple}:
        items = list(itertools.chain.from_iterable(value))
        return items if set(map(type, items)) <= _SCALARS else None
    return None


def _plain_array(value: Any) -> list[Any] | None:
    """What a ``DataArrayValidator`` makes of a list of scalars or of tuples of them (lists), in a few C loops.

    ``to_scalar_or_list`` calls itself for every item: thousands of segments' x, y and customdata were a
    fifth of a chart. None for anything else, which goes through the validator.
    """
    if _scalars(value) is None:
        return None
    return [list(item) if type(item) in (list, tuple) else item for item in value]


# Values plotly's ``is_homogeneous_array`` never takes for an array (none is numpy's, pandas' or has ``__array__``).
_NOT_ARRAYS = frozenset({str, int, float, bool, type(None), dict, list, tuple})


def _to_base64(value: Any) -> None:
    """plotly's ``convert_to_base64``, not walking lists of scalars (it converts nothing in them).

    A value of a plain type is never an array: plotly's test (a module lookup per value, a few thousand
    values a chart) is asked only of the others.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if type(item) in _NOT_ARRAYS:
                if type(item) in (dict, list, tuple) and not is_skipped_key(key):
                    _to_base64(item)
            elif is_skipped_key(key):
                continue
            elif is_homogeneous_array(item):
                value[key] = to_typed_array_spec(item)
            else:
                _to_base64(item)
    elif isinstance(value, list | tuple) and _scalars(value) is None:
        for item in value:
            _to_base64(item)


def _trace(trace: Any) -> dict[str, Any]:
    if not isinstance(trace, dict):
        raise Unsupported(type(trace).__name__)
    kind = trace.get("type", "scatter")
    if kind not in TRACE_CLASSES:
        raise Unsupported(f"trace type {kind}")
    props = _object(TRACE_CLASSES[kind], {k: v for k, v in trace.items() if k != "type"})
    props["type"] = kind  # plotly writes the type after the properties
    return props


# Templates as plain data, by the template object (kept, so its id is never reused while here).
_TEMPLATES: dict[int, tuple[BasePlotlyType, dict[str, Any]]] = {}


def _default_template() -> dict[str, Any] | None:
    """The template ``go.Figure`` gives a layout that names none (plotly.io's default), as plain data.

    Shared: callers copy it (:func:`_copied`) before handing it out.
    """
    default = pio.templates.default
    if default is None:
        return None
    template = default if isinstance(default, BasePlotlyType) else pio.templates[default]
    if id(template) not in _TEMPLATES:
        plain = template.to_plotly_json()
        convert_to_base64(plain)
        _TEMPLATES[id(template)] = (template, plain)
    return _TEMPLATES[id(template)][1]


def _copied(value: Any) -> Any:
    """A deep copy of plotly JSON data (dicts, lists, strings, numbers): what ``copy.deepcopy`` gives, faster."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return copy.deepcopy(value)


def plain_figure(spec: dict[str, Any], *, own_template: bool = True) -> dict[str, Any]:
    """``go.Figure(spec).to_dict()`` for a spec of plain data (``{"data": [...], "layout": {...}}``).

    Without ``own_template`` the default template (some 700 values) is the one every figure shares, not a copy:
    for a caller that copies what it hands out, as :class:`Figure` does.
    """
    try:
        if set(spec) - {"data", "layout"}:
            raise Unsupported(f"figure keys {sorted(spec)}")
        data, layout = spec.get("data") or [], spec.get("layout") or {}
        if not isinstance(data, list | tuple) or not isinstance(layout, dict):
            raise Unsupported("data or layout")
        data = [_trace(trace) for trace in data]
        layout = _object(Layout, layout)
    except Unsupported:
        return go.Figure(copy.deepcopy(spec)).to_dict()  # plotly may change a spec it rejects
    result = {"data": data, "layout": layout}
    _to_base64(result)
    if layout.get("template") is None:
        # Set last, as go.Figure sets it once the layout is in.
        template = _default_template()
        if template is not None:
            layout["template"] = _copied(template) if own_template else template
    return result


# Held while a Figure is made into plotly's objects (rare: most are only ever sent as their dict).
_MAKING = threading.RLock()


class Figure(go.Figure):
    """A ``go.Figure`` validated only when first used as one.

    Built from a spec of plain data, it answers ``to_dict`` (all ``st.plotly_chart`` asks of a
    figure) and :attr:`meta` from :func:`plain_figure`'s dict. Any other attribute makes it the
    ``go.Figure`` of the same spec first, so code that reads or changes a figure sees plotly's.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        # go.Figure.__init__ is deferred: it is the validation this class exists to skip.
        spec = {k: v for k, v in spec.items() if k not in ("_grid_str", "_grid_ref")}
        self.__dict__["_spec"] = spec
        self.__dict__["_plain"] = plain_figure(spec, own_template=False)  # to_dict hands out a copy

    def __getattr__(self, name: str) -> Any:
        # Reached only for what is not set yet: plotly's own state, made on first use. A figure is shared
        # by every session showing its view, so two threads may ask at once: one makes it, the other
        # waits and then reads it. Plotly's own __init__ looks attributes up here while it runs (the
        # lock is re-entrant): those it has not set yet are missing.
        if name.startswith("__") or "_spec" not in self.__dict__:
            raise AttributeError(name)
        with _MAKING:
            if self.__dict__.get("_ready", False):  # made by another thread while this one waited
                return object.__getattribute__(self, name)
            if self.__dict__.get("_made", False):  # being made, by this thread
                raise AttributeError(name)
            self.__dict__["_made"] = True
            go.Figure.__init__(self, self.__dict__["_spec"])
            self.__dict__["_ready"] = True
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        if self.__dict__.get("_ready", False):
            return super().to_dict()
        if self.__dict__.get("_unchanged", False):
            return self.__dict__["_plain"]
        return _copied(self.__dict__["_plain"])

    def sent(self) -> Figure:
        """This figure for a reader that only serialises what ``to_dict`` gives and never changes it
        (``st.plotly_chart``: plotly.io's ``to_json`` pops each trace's ``uid``, which no builder sets): its
        ``to_dict`` is the figure's own dict, not a copy.

        A page's charts are sent again at every rerun; copying each one (some thousands of values, the
        template's 700 among them) was a fifth of a rerun whose charts were all built already.
        """
        if self.__dict__.get("_made", False):  # plotly's own objects, made or being made: those are sent
            return self
        sent = Figure.__new__(Figure)
        sent.__dict__.update(_spec=self.__dict__["_spec"], _plain=self.__dict__["_plain"], _unchanged=True)
        return sent

    @property
    def meta(self) -> Any:
        """``layout.meta`` (the chart's alt text, file name and ids), read without building the figure."""
        if self.__dict__.get("_ready", False):
            return self.layout.meta
        return self.__dict__["_plain"]["layout"].get("meta")


def figure_dict(figure: go.Figure) -> dict[str, Any]:
    """The figure's plotly JSON data, to read and never to change (a :class:`Figure`'s own, not a copy)."""
    return figure.sent().to_dict() if isinstance(figure, Figure) else figure.to_dict()


def figure_meta(figure: go.Figure) -> dict[str, Any]:
    """A figure's ``layout.meta`` (empty when it has none), cheaply for a :class:`Figure`."""
    meta = figure.meta if isinstance(figure, Figure) else figure.layout.meta
    return meta or {}
