"""The district's settings file: program name, contact, languages, schools, onboarding."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import ConfigError
from bot.yamlsource import field_path, load_yaml

__all__ = ["DistrictConfig", "SchoolConfig", "load_district_file"]

Step = Literal["language", "consent", "role", "school"]
Role = Literal["parent", "student", "staff", "community"]


def _all_roles() -> list[Role]:
    return ["parent", "student", "staff", "community"]


def _all_steps() -> list[Step]:
    return ["language", "consent", "role", "school"]


def _skippable_steps() -> list[Step]:
    return ["role", "school"]


class SchoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    name: str = Field(min_length=1, max_length=200)


class DistrictConfig(BaseModel):
    """What `district.yaml` holds (see examples/district.yaml)."""

    model_config = ConfigDict(extra="forbid")
    program_name: str = Field(min_length=1, max_length=80)
    contact: str = Field(min_length=1, max_length=120)
    languages: list[str] = Field(min_length=1)
    default_language: str = "en"
    timezone: str = "America/Chicago"
    roles: list[Role] = Field(default_factory=_all_roles)
    schools: list[SchoolConfig] = Field(default_factory=list)
    onboarding: list[Step] = Field(default_factory=_all_steps)
    skippable: list[Step] = Field(default_factory=_skippable_steps)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (use e.g. America/Chicago)") from error
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DistrictConfig:
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not in languages")
        codes = [s.code for s in self.schools]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate school codes: {', '.join(duplicates)}")
        return self

    @classmethod
    def default(cls) -> DistrictConfig:
        """Settings for a district that has not written its file yet."""
        return cls(
            program_name="District Strategic Plan",
            contact="Contact your school office",
            languages=["en", "es"],
        )


def load_district_file(path: Path) -> DistrictConfig:
    """Read and check a district file; ConfigError lists every problem as file:line: field."""
    try:
        source = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the district file ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text") from error
    try:
        document = load_yaml(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(
            f"{path}:{line}: not valid YAML: {getattr(error, 'problem', error)}"
        ) from error
    if not isinstance(document.data, dict):
        raise ConfigError(f"{path}:1: the district file must be a mapping of settings")
    try:
        return DistrictConfig.model_validate(document.data)
    except ValidationError as error:
        problems = [
            f"{path}:{document.line(e['loc'])}: {field_path(e['loc'])}: {e['msg']}"
            for e in error.errors()
        ]
        raise ConfigError("\n".join(problems)) from error
