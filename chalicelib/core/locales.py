"""The languages visitors are spoken to in: what the widget, the emails and the system's messages speak."""

SUPPORTED = ("en", "fr")
DEFAULT = "en"


def language(locale: str | None) -> str:
    """The supported language of a BCP 47 tag ("fr-CA" → "fr"); English for anything else."""
    head = (locale or "").split("-")[0].split("_")[0].lower()
    return head if head in SUPPORTED else DEFAULT
