"""JSON Schema of a saved reference file (``Reference.save``); loading validates against it.

A reference is shared between sites, so it is read as untrusted data: every key and type is
fixed here, unknown keys are refused, and formulas are checked separately
(``design.check_formula``) before patsy sees them.
"""

_NUMBER = {"type": ["number", "null"]}
_NUMBERS = {"type": "array", "items": _NUMBER}
_TEXTS = {"type": "array", "items": {"type": ["string", "number", "boolean", "null"]}}

_FIT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["level", "measure", "formula", "columns", "params", "cov", "resid_sd", "n",
                 "n_used", "iterations", "ranges", "categories"],
    "properties": {
        "level": {"type": "string", "maxLength": 8},
        "measure": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "formula": {"type": "string", "maxLength": 20000},
        "columns": {"type": "array", "items": {"type": "string"}},
        "params": _NUMBERS,
        "cov": {"type": "array", "items": _NUMBERS},
        "resid_sd": _NUMBER,
        "n": {"type": "integer", "minimum": 0},
        "n_used": {"type": "integer", "minimum": 0},
        "iterations": {"type": "integer", "minimum": 0},
        "ranges": {"type": "object",
                   "additionalProperties": {"type": "array", "items": _NUMBER,
                                            "minItems": 2, "maxItems": 2}},
        "categories": {"type": "object", "additionalProperties": _TEXTS},
        "quantile_params": {"type": ["object", "null"], "additionalProperties": _NUMBERS},
    },
}

REFERENCE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "format_version", "formula", "method", "fits", "cells"],
    "properties": {
        "format": {"const": "morpho-reference"},
        "format_version": {"const": 1},
        "formula": {"type": "string", "maxLength": 20000},
        "method": {"enum": ["ols", "rlm", "quantreg"]},
        "fits": {"type": "array", "items": _FIT},
        "cells": {
            "type": "object",
            "required": ["columns", "data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": _TEXTS["items"]}},
            },
        },
        "exclusions": {"type": "object", "additionalProperties": {"type": "integer"}},
        "min_n": {"type": "integer", "minimum": 1},
        "trim_sd": {"type": "number", "exclusiveMinimum": 0},
        "morpho_version": {"type": "string", "maxLength": 64},
        "created": {"type": "string", "maxLength": 64},
    },
}
