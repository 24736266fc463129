"""Just enough of Docker's own parsing to check Dockerfiles and their build context offline.

- `parse_dockerfile`: instructions and stages the way BuildKit's Dockerfile frontend reads them
  (parser directives, `\\` continuations with comment and blank lines inside them dropped, flags,
  JSON or shell form). Heredocs are refused rather than misread: no Sluice Dockerfile uses one.
- `DockerIgnore`: `.dockerignore` semantics as moby's patternmatcher implements them (comments at
  column 0, patterns cleaned and made relative, `*`/`?`/`[...]` within one path segment, `**`
  across segments, a pattern that matches a parent directory excludes everything below it, the
  last matching line wins, `!` re-includes).

Why not PyPI's dockerfile-parse (2.0.1, checked): it gives instructions with line numbers and
joins continuations, but parses no flags (`--from`, `--mount`, `--platform` stay in the value),
does not tell the JSON form from the shell form, has no stage chain, and misreads two things
silently: a blank line inside a continuation ends the instruction there (BuildKit continues it),
and a heredoc's body becomes instructions. Everything these checks rely on would remain here.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

FLAGGED = {"FROM", "COPY", "ADD", "RUN", "HEALTHCHECK"}
HEREDOC = re.compile(r"<<-?\s*['\"]?[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Instruction:
    """One instruction: its keyword, leading `--flags`, arguments and first line number."""

    keyword: str
    flags: list[tuple[str, str]]
    rest: str
    line: int

    @property
    def json_args(self) -> list[str] | None:
        """The arguments in JSON (exec) form, or None for the shell form."""
        if not self.rest.startswith("["):
            return None
        try:
            value = json.loads(self.rest)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    def flag(self, name: str) -> str | None:
        """The value of the last `--name=value` flag, or None."""
        values = [value for key, value in self.flags if key == name]
        return values[-1] if values else None

    def flag_values(self, name: str) -> list[str]:
        """Every value of a repeatable flag (RUN --mount)."""
        return [value for key, value in self.flags if key == name]

    def paths(self) -> tuple[list[str], str]:
        """COPY/ADD: (sources, destination)."""
        args = self.json_args or self.rest.split()
        if len(args) < 2:
            raise ValueError(f"line {self.line}: {self.keyword} needs a source and a destination")
        return args[:-1], args[-1]

    def shell_commands(self) -> list[list[str]]:
        """RUN (shell form): the simple commands, split at `&&`, `||`, `;` and `|`."""
        lexer = shlex.shlex(self.rest, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands: list[list[str]] = [[]]
        for token in lexer:
            if token in ("&&", "||", ";", "|"):
                commands.append([])
            else:
                commands[-1].append(token)
        return [command for command in commands if command]

    def env(self) -> dict[str, str]:
        """ENV: the variables it sets (`K=V ...`, or the legacy `K V`)."""
        tokens = shlex.split(self.rest, posix=True)
        if tokens and "=" not in tokens[0]:
            return {tokens[0]: " ".join(tokens[1:])}
        return dict(token.split("=", 1) for token in tokens)


@dataclass
class Stage:
    """A FROM and the instructions after it."""

    index: int
    base: str
    name: str | None
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    """The stages of a Dockerfile, with lookups along the FROM chain."""

    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        """The stage named `name` (AS name)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage named {name!r}")

    def names(self) -> list[str]:
        """The stage names, in order."""
        return [stage.name for stage in self.stages if stage.name]

    def chain(self, name: str) -> list[Stage]:
        """The stage and the earlier stages it is built FROM, the first ancestor first."""
        chain = [self.stage(name)]
        while chain[0].base in self.names():
            chain.insert(0, self.stage(chain[0].base))
        return chain

    def root_image(self, name: str) -> str:
        """The image reference a stage is ultimately built FROM."""
        return self.chain(name)[0].base

    def lineage(self, name: str) -> list[Instruction]:
        """Every instruction that went into a stage, its ancestors' first."""
        return [instruction for stage in self.chain(name) for instruction in stage.instructions]


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, instruction text) with directives, comments and continuations done."""
    lines = text.splitlines()
    escape = "\\"
    start = 0
    # Parser directives: `# key=value` lines at the very top.
    for number, line in enumerate(lines):
        match = re.fullmatch(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*", line)
        if not match:
            break
        if match.group(1).lower() == "escape":
            escape = match.group(2)
        start = number + 1
    pending: list[str] = []
    first = 0
    for number, line in enumerate(lines[start:], start=start + 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # also inside a continuation: BuildKit drops such lines
        if not pending:
            first = number
        body = line.rstrip()
        if body.endswith(escape):
            pending.append(body[: -len(escape)])
            continue
        pending.append(body)
        yield first, "".join(pending).strip()
        pending = []
    if pending:
        yield first, "".join(pending).strip()


def _split_flags(keyword: str, rest: str) -> tuple[list[tuple[str, str]], str]:
    flags: list[tuple[str, str]] = []
    if keyword not in FLAGGED:
        return flags, rest
    while match := re.match(r"--(\S+)\s*", rest):
        name, _, value = match.group(1).partition("=")
        flags.append((name, value))
        rest = rest[match.end() :]
    return flags, rest


def parse_dockerfile(text: str) -> Dockerfile:
    """Parses a Dockerfile into stages; raises ValueError on what this parser cannot read."""
    stages: list[Stage] = []
    for line, logical in _logical_lines(text):
        keyword, _, rest = logical.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword in ("RUN", "COPY", "ADD") and HEREDOC.search(rest):
            raise ValueError(f"line {line}: heredocs are not supported by this parser")
        flags, rest = _split_flags(keyword, rest)
        instruction = Instruction(keyword, flags, rest, line)
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            if len(words) not in (1, 3) or (len(words) == 3 and name is None):
                raise ValueError(f"line {line}: cannot read FROM {rest!r}")
            stages.append(Stage(len(stages), words[0], name, instruction.flag("platform")))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif keyword != "ARG":
            raise ValueError(f"line {line}: {keyword} before the first FROM")
    if not stages:
        raise ValueError("no FROM instruction")
    return Dockerfile(stages)


class _Pattern:
    """One .dockerignore line, compiled the way moby's patternmatcher compiles it."""

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        self.kind, self.regex = self._compile(text)

    @staticmethod
    def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
        regex = "^"
        kind = "exact"
        i = 0
        while i < len(pattern):
            char = pattern[i]
            if char == "*" and pattern[i + 1 : i + 2] == "*":
                at_start = i == 0
                i += 2
                if pattern[i : i + 1] == "/":
                    i += 1  # `**/` is `**`
                if i >= len(pattern):
                    regex += ".*"
                    kind = "prefix" if kind == "exact" else "regex"
                else:
                    regex += "(.*/)?"
                    kind = "regex"
                if at_start:
                    kind = "suffix"
                continue
            if char == "*":
                regex += "[^/]*"
                kind = "regex"
            elif char == "?":
                regex += "[^/]"
                kind = "regex"
            elif char == "\\" and i + 1 < len(pattern):
                i += 1
                regex += re.escape(pattern[i])
                kind = "regex"
            elif char in "[]":
                regex += char
                kind = "regex"
            else:
                regex += re.escape(char)
            i += 1
        return kind, re.compile(regex + "$") if kind == "regex" else None

    def matches(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None

    def matches_or_parent(self, path: str) -> bool:
        if self.matches(path):
            return True
        parts = path.split("/")[:-1]
        return any(self.matches("/".join(parts[: i + 1])) for i in range(len(parts)))


class DockerIgnore:
    """The patterns of a .dockerignore file; `excluded(path)` answers as `docker build` would."""

    def __init__(self, text: str) -> None:
        self.patterns: list[_Pattern] = []
        for line in text.removeprefix("\ufeff").splitlines():
            if line.startswith("#"):
                continue  # a comment only at column 0, as in moby's ignorefile
            pattern = line.strip()
            if not pattern:
                continue
            exclusion = pattern.startswith("!")
            if exclusion:
                pattern = pattern[1:].strip()
                if not pattern:
                    raise ValueError('illegal exclusion pattern: "!"')
            pattern = posixpath.normpath(pattern).lstrip("/") or "/"
            self.patterns.append(_Pattern(pattern, exclusion))

    def excluded(self, path: str) -> bool:
        """Whether `path` (relative to the context root, `/`-separated) is left out."""
        path = posixpath.normpath(path)
        if path == ".":
            return False
        matched = False
        for pattern in self.patterns:
            # The last line that matches decides; lines that could not change it are skipped.
            if pattern.exclusion != matched:
                continue
            if pattern.matches_or_parent(path):
                matched = not pattern.exclusion
        return matched
