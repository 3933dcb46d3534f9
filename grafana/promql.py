r"""Small PromQL formatting helpers shared by the dashboards and the rule generator.

Examples
--------
>>> selector("monitor_accuracy", model="$model", metric="mae")
'monitor_accuracy{metric="mae",model="$model"}'
>>> selector("monitor_drift_score", field=Match("a.*", regex=True))
'monitor_drift_score{field=~"a\\\\..*"}'
>>> glob_to_regex("tok-*.v?")
'tok-.*\\.v.'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Match:
    """A label matcher value: exact (``=``) by default, or an RE2 regex built from a glob."""

    value: str
    regex: bool = False

    def render(self, label: str) -> str:
        if self.regex:
            return f'{label}=~"{quote(glob_to_regex(self.value))}"'
        return f'{label}="{quote(self.value)}"'


def quote(text: str) -> str:
    """Escape ``text`` for a double-quoted PromQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def glob_to_regex(glob: str) -> str:
    """An RE2 regex (anchored by Prometheus) matching what ``fnmatch.fnmatchcase`` matches."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = glob.find("]", i + 2 if glob[i + 1:i + 2] in ("!", "]") else i + 1)
            if j < 0:
                out.append("\\[")
            else:
                body = glob[i + 1:j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c.isalnum() or c in "_-":
            out.append(c)
        else:
            out.append("\\" + c)
        i += 1
    return "".join(out)


def is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def selector(name: str, **labels: str | Match) -> str:
    """``name{label="value",...}`` with labels sorted; a ``Match`` value may be a regex."""
    parts = []
    for label in sorted(labels):
        value = labels[label]
        match = value if isinstance(value, Match) else Match(value)
        parts.append(match.render(label))
    return f"{name}{{{','.join(parts)}}}" if parts else name


def number(x: float) -> str:
    """A float as PromQL reads it, without a trailing ``.0``."""
    return f"{x:.12g}"
