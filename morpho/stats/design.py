"""Patsy designs that can be saved as text: stateful terms frozen to explicit arguments.

A formula such as ``age + bs(age, df=4) + C(sex)`` learns knots and category levels from
the data it first sees. ``freeze`` rewrites it with those values written out
(``bs(age, knots=[...], lower_bound=..., upper_bound=..., degree=3)``,
``C(sex, levels=['F', 'M'])``) so that a saved reference rebuilds the same columns on
new data without the training table.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd
import patsy

from morpho.errors import MorphoError

SPLINES = {"bs", "cr", "cc"}
UNSUPPORTED = {"center", "standardize", "scale"}
#: The only calls a formula may make, and the keyword arguments each takes (patsy's).
ALLOWED_CALLS = {
    "C": {"levels"},
    "bs": {"df", "knots", "degree", "include_intercept", "lower_bound", "upper_bound"},
    "cr": {"df", "knots", "lower_bound", "upper_bound", "constraints"},
    "cc": {"df", "knots", "lower_bound", "upper_bound", "constraints"},
}
PLAIN_C = re.compile(r"\bC\(\s*(\w+)\s*(?:,\s*levels\s*=\s*\[[^\]]*\]\s*)?\)")


def design(
    formula: str, data: pd.DataFrame, categories: dict[str, list] | None = None
) -> patsy.DesignMatrix:
    """The right-hand side of ``formula`` evaluated on ``data`` (rows with NaN raise).

    Text columns become pandas categoricals (with ``categories`` where given, else their
    sorted values), which patsy codes without a Python loop per row.
    """
    check_formula(formula)
    columns = {}
    for name in variables(formula):
        if name not in data:
            raise MorphoError(None, f"formula {formula!r}: no column {name!r}")
        values = data[name]
        if not pd.api.types.is_numeric_dtype(values) and not isinstance(
            values.dtype, pd.CategoricalDtype
        ):
            levels = (categories or {}).get(name) or sorted(values.dropna().unique())
            values = pd.Categorical(values, categories=levels)
        columns[name] = values
    try:
        frame = pd.DataFrame(columns, index=data.index)
        return patsy.dmatrix(_plain_categoricals(rhs(formula), frame), frame,
                             eval_env=patsy.EvalEnvironment([{}]),  # no module globals
                             NA_action="raise", return_type="matrix")  # fmt: skip
    except patsy.PatsyError as exc:
        raise MorphoError(None, f"formula {formula!r}: {exc}".splitlines()[0]) from exc


def _plain_categoricals(formula: str, frame: pd.DataFrame) -> str:
    """``C(sex)`` or ``C(sex, levels=[...])`` -> ``sex`` for a pandas categorical column.

    Same columns (the levels are the categorical's), but patsy then codes it in one step
    instead of row by row.
    """

    def plain(match: re.Match) -> str:
        name = match.group(1)
        is_categorical = name in frame and isinstance(frame[name].dtype, pd.CategoricalDtype)
        return name if is_categorical else match.group(0)

    return PLAIN_C.sub(plain, formula)


def rhs(formula: str) -> str:
    """``"h ~ age + C(sex)"`` or ``"age + C(sex)"`` -> ``"age + C(sex)"``."""
    return formula.split("~", 1)[1].strip() if "~" in formula else formula.strip()


def check_formula(formula: str) -> str:
    """``formula`` if it holds data only, else a MorphoError; run before patsy sees it.

    Patsy evaluates each term as Python, so a formula from a shared file could run code.
    Allowed: column names, numbers, ``+ - : *``, and calls of ``C``, ``bs``, ``cr``, ``cc``
    on one column with literal keyword arguments (numbers, strings, lists of them).
    """
    if not isinstance(formula, str) or len(formula) > 20_000:
        raise MorphoError(None, "formula: not a text of reasonable length")
    try:
        tree = ast.parse(_python(rhs(formula)), mode="eval")
    except SyntaxError as exc:
        raise MorphoError(None, f"formula {formula!r}: not a formula ({exc.msg})") from exc
    bad = _first_disallowed(tree.body)
    if bad is not None:
        raise MorphoError(None, f"formula {formula!r}: {bad} is not allowed (column names, "
                                "numbers, + - : *, C(), bs(), cr(), cc() only)")  # fmt: skip
    return formula


def _first_disallowed(node: ast.AST) -> str | None:
    """A description of the first node outside the formula whitelist, else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        return _first_disallowed(node.left) or _first_disallowed(node.right)
    if isinstance(node, ast.Name):
        return None if _is_column(node.id) else f"the name {node.id!r}"
    if _is_number(node):
        return None
    if isinstance(node, ast.Call):
        return _call_disallowed(node)
    return f"{type(node).__name__.lower()} {ast.unparse(node)!r}"


def _call_disallowed(node: ast.Call) -> str | None:
    """A description of what is not allowed in a call, else None."""
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in ALLOWED_CALLS:
        return f"the call {ast.unparse(node.func)!r}"
    if len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
        return f"{name}() on anything but one column"
    if not _is_column(node.args[0].id):
        return f"the name {node.args[0].id!r}"
    for keyword in node.keywords:
        if keyword.arg not in ALLOWED_CALLS[name]:
            return f"the argument {keyword.arg or '**'!r} of {name}()"
        if not _is_literal(keyword.value):
            return f"a non-literal value for {name}({keyword.arg}=...)"
    return None


def _is_column(name: str) -> bool:
    return not name.startswith("_") and name not in ALLOWED_CALLS and name != "np"


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool))  # fmt: skip


def _is_literal(node: ast.AST) -> bool:
    """Numbers, strings, True/False/None and (nested) lists of them."""
    if isinstance(node, ast.List):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float, str, bool, type(None)))
    return _is_number(node)


def variables(formula: str) -> list[str]:
    """The data columns a formula reads (names that are not functions or ``np``)."""
    tree = ast.parse(_python(rhs(formula)), mode="eval")
    nodes = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Name)), key=lambda n: n.col_offset
    )
    names = [n.id for n in nodes]
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}  # fmt: skip
    return list(dict.fromkeys(n for n in names if n not in called and n != "np"))


def freeze(design_info: patsy.DesignInfo) -> str:
    """A formula that rebuilds ``design_info``'s columns on any data."""
    factor_code = {
        factor: _freeze_factor(factor.code, info)
        for factor, info in design_info.factor_infos.items()
    }
    terms, intercept = [], False
    for term in design_info.terms:
        if not term.factors:
            intercept = True
        else:
            terms.append(":".join(factor_code[f] for f in term.factors))
    return " + ".join(["1" if intercept else "0", *terms])


def _python(code: str) -> str:
    """Patsy's operators (+ : * ~ -) parse as Python expressions already."""
    return code.replace(":", "*") or "0"


def _freeze_factor(code: str, info: patsy.design_info.FactorInfo) -> str:
    if info.type == "categorical":
        return _freeze_categorical(code, info.categories)
    transforms = list(info.state.get("transforms", {}).values())
    if not transforms:
        return code
    tree = ast.parse(code, mode="eval")
    calls = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
         and n.func.id in SPLINES | UNSUPPORTED),
        key=lambda n: (n.func.lineno, n.func.col_offset),
    )  # fmt: skip
    for call, state in zip(calls, transforms, strict=True):
        if call.func.id in UNSUPPORTED:
            raise MorphoError(None, f"{call.func.id}() cannot be saved in a reference; use a "
                                    "plain covariate or bs()/cr()")  # fmt: skip
        _set_spline_arguments(call, state)
    return ast.unparse(tree)


def _set_spline_arguments(call: ast.Call, state) -> None:
    knots = np.asarray(state._all_knots, dtype=float)
    frozen = {"lower_bound": knots[0], "upper_bound": knots[-1]}
    if call.func.id == "bs":
        order = state._degree + 1
        frozen.update(knots=knots[order:-order].tolist(), degree=state._degree)
    else:
        frozen["knots"] = knots[1:-1].tolist()
        if state._constraints is not None:
            frozen["constraints"] = np.asarray(state._constraints).tolist()
    dropped = {"df", *frozen}
    call.keywords = [k for k in call.keywords if k.arg not in dropped]
    call.keywords += [ast.keyword(arg=k, value=_literal(v)) for k, v in frozen.items()]


def _freeze_categorical(code: str, categories) -> str:
    levels = _literal(list(categories))
    tree = ast.parse(code, mode="eval")
    body = tree.body
    if isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and body.func.id == "C":
        body.keywords = [k for k in body.keywords if k.arg != "levels"]
        body.keywords.append(ast.keyword(arg="levels", value=levels))
        return ast.unparse(tree)
    return ast.unparse(
        ast.Call(func=ast.Name("C"), args=[body], keywords=[ast.keyword("levels", levels)])
    )


def _literal(value) -> ast.expr:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, list):
        return ast.List(elts=[_literal(v) for v in value])
    return ast.Constant(value=float(value) if isinstance(value, np.floating) else value)
