"""The district's settings file: program name, contact, languages, schools and onboarding.

See examples/district.yaml. Problems are reported like an activity's, as
`district.yaml:line: field: problem`, all at once, in a ConfigError.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from bot.authoring.activities import (
    FieldPath,
    SourceError,
    field_path,
    read_source,
    read_yaml,
    validation_problems,
)
from bot.authoring.inbox_config import InboxConfig, reference_problems
from bot.core.vocabulary import spoken_languages
from bot.errors import ConfigError

__all__ = [
    "DistrictConfig",
    "OnboardingStepName",
    "RoleName",
    "SchoolConfig",
    "is_district_file",
    "load_district_file",
]

OnboardingStepName = Literal["language", "consent", "role", "school"]
RoleName = Literal["parent", "student", "staff", "community"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _all_roles() -> list[RoleName]:
    return ["parent", "student", "staff", "community"]


def _all_steps() -> list[OnboardingStepName]:
    return ["language", "consent", "role", "school"]


def _skippable_steps() -> list[OnboardingStepName]:
    return ["role", "school"]


# A value listed twice (ignoring case) is an error naming both places.
def _once_each(values: list[str], where: str) -> None:
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        earlier = first.setdefault(value.casefold(), index)
        if earlier != index:
            raise PydanticCustomError(
                "repeated",
                "'{value}' appears twice: {first} and {second}",
                {
                    "value": value,
                    "first": where.format(earlier),
                    "second": where.format(index),
                },
            )


def _spoken(language: str) -> str:
    if language not in spoken_languages():
        raise PydanticCustomError(
            "language",
            "'{language}' is not a language the bot speaks; use one of: {known}",
            {"language": language, "known": ", ".join(spoken_languages())},
        )
    return language


Language = Annotated[str, AfterValidator(_spoken)]


class SchoolConfig(BaseModel):
    """A school families can say they belong to; `code` is what rounds and exports use."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)]
    name: Annotated[Name, StringConstraints(max_length=100)]
    # The name in other languages, shown to families who chose that language.
    names: dict[Language, Annotated[Name, StringConstraints(max_length=100)]] = Field(
        default_factory=dict
    )
    # Other names families use, in any script: "Lincoln", "林肯", "LES".
    aliases: list[Annotated[Name, StringConstraints(max_length=100)]] = Field(default_factory=list)


class DistrictConfig(BaseModel):
    """What `district.yaml` holds; `DistrictConfig.default()` when a district has none yet."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    program_name: Annotated[Name, StringConstraints(max_length=80)]
    contact: Annotated[Name, StringConstraints(max_length=160)]
    # The contact line in the district's other languages: HELP is sent in the family's.
    contact_translations: dict[Language, Annotated[Name, StringConstraints(max_length=160)]] = (
        Field(default_factory=dict)
    )
    languages: list[Language] = Field(min_length=1)
    default_language: str = "en"
    timezone: str = "America/Chicago"
    roles: list[RoleName] = Field(default_factory=_all_roles, min_length=1)
    schools: list[SchoolConfig] = Field(default_factory=list)
    onboarding: list[OnboardingStepName] = Field(default_factory=_all_steps)
    skippable: list[OnboardingStepName] = Field(default_factory=_skippable_steps)
    # The activity a family starts once signed up, unless invited to another:
    # an activity key, or `none`; unset, the newest open survey or feedback round.
    first_activity: (
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=40)]
        | None
    ) = None
    inbox: InboxConfig = Field(default_factory=InboxConfig)

    @field_validator("languages")
    @classmethod
    def _languages_once(cls, languages: list[str]) -> list[str]:
        _once_each(languages, "languages[{}]")
        return languages

    @field_validator("default_language")
    @classmethod
    def _among_languages(cls, value: str, info: ValidationInfo) -> str:
        languages = info.data.get("languages")
        if languages is not None and value not in languages:
            raise PydanticCustomError(
                "language",
                "'{value}' is not one of the languages: {languages}",
                {"value": value, "languages": ", ".join(languages)},
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise PydanticCustomError(
                "timezone",
                "'{value}' is not a time zone; use a name like America/Chicago",
                {"value": value},
            ) from error
        return value

    @field_validator("roles", "onboarding", "skippable")
    @classmethod
    def _steps_once(cls, values: list[str], info: ValidationInfo) -> list[str]:
        _once_each(values, f"{info.field_name}[{{}}]")
        return values

    @field_validator("schools")
    @classmethod
    def _distinct_schools(cls, schools: list[SchoolConfig]) -> list[SchoolConfig]:
        # Families answer with a school's name, so names must differ as well as codes.
        _once_each([s.code for s in schools], "schools[{}].code")
        _once_each([s.name for s in schools], "schools[{}].name")
        owner: dict[str, int] = {}
        for index, school in enumerate(schools):
            every = (school.name, *school.names.values(), *school.aliases)
            for name in dict.fromkeys(n.casefold() for n in every):
                earlier = owner.setdefault(name, index)
                if earlier != index:
                    raise PydanticCustomError(
                        "repeated",
                        "'{name}' names two schools: schools[{first}] and schools[{second}]",
                        {"name": name, "first": earlier, "second": index},
                    )
        return schools

    @classmethod
    def default(cls) -> DistrictConfig:
        """Settings for a district that has not written its file yet: English and Spanish."""
        return cls(
            program_name="District Strategic Plan",
            contact="Contact your school office",
            languages=["en", "es"],
        )


# Web and email addresses, which read the same in every language.
_ADDRESSES = re.compile(r"\S+@\S+|(?:https?://)?[\w-]+(?:\.[\w-]+)+(?:/\S*)?")


def contact_warnings(district: DistrictConfig) -> list[str]:
    """District languages whose HELP would carry the contact line in another language.

    A contact of only numbers and addresses ("555-0100, riverside.example.org")
    reads the same in every language and needs no translation.
    """
    if not any(c.isalpha() for c in _ADDRESSES.sub(" ", district.contact)):
        return []
    return [
        f"district file: contact_translations: no {language} line; families who read "
        f"{language} get HELP with {district.contact!r}"
        for language in district.languages
        if language != district.default_language and language not in district.contact_translations
    ]


# Fields only a district file has, and fields every activity has.
_DISTRICT_FIELDS = frozenset({"program_name", "contact", "languages", "schools", "onboarding"})
_ACTIVITY_FIELDS = frozenset({"key", "kind", "questions", "title"})


def is_district_file(path: Path) -> bool:
    """Whether `path` reads as a district file rather than an activity (a glob catches both)."""
    try:
        data = read_yaml(read_source(path), str(path), "the file").data
    except SourceError:
        return False
    if not isinstance(data, dict):
        return False
    fields = {str(name) for name in data}
    return bool(fields & _DISTRICT_FIELDS) and not fields & _ACTIVITY_FIELDS


def load_district_file(path: Path) -> DistrictConfig:
    """Read and check a district file.

    Raises ConfigError listing every problem, one `file:line: field: problem` per line.
    """
    try:
        document = read_yaml(read_source(path), str(path), "the district file")
    except SourceError as error:
        raise ConfigError(error.problem) from error
    problems = [
        (
            line,
            f"{path}:{line}: {field_path(at)}: appears twice; line {document.line(at)} sets it too",
        )
        for line, at in document.repeated
    ]
    try:
        config = DistrictConfig.model_validate(document.data)
    except ValidationError as error:
        found: list[tuple[FieldPath, str]] = validation_problems(error, DistrictConfig)
        problems += [
            (document.line(at), f"{path}:{document.line(at)}: {field_path(at)}: {message}")
            for at, message in found
        ]
        config = None
    if config is not None:
        problems += [
            (document.line(at), f"{path}:{document.line(at)}: {field_path(at)}: {message}")
            for at, message in reference_problems(
                config.inbox, [s.code for s in config.schools], config.languages
            )
        ]
    if problems or config is None:
        raise ConfigError("\n".join(text for _, text in sorted(problems)))
    return config
