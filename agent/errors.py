"""Errors that mean "the input is wrong": the CLI turns them into exit code 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from a person: config, rules, templates, CSV, command arguments.

    The message must name the file, the line or key, the bad value and what was
    expected, so that the person can fix it without reading our code.
    """


class ConfigError(InputError):
    pass


class RulesError(InputError):
    pass


class TemplateError(InputError):
    pass


class NotFound(InputError):
    """A deal, message or email named on the command line does not exist."""
