"""What the system tells both sides of a conversation, in the visitor's language: who joined, a
transfer, a solve, a reminder, a missed wait. Each is a system message with a `notice` code, so a
client may draw it its own way; its text is what the visitor reads (agents read the same words)."""
from chalicelib.core.locales import language

# code -> (English, French); {x} is a value. \u00a0 is French's no-break space before ? and !
TEXTS = {
    "joined": ("{agent} joined the conversation.", "{agent} a rejoint la conversation."),
    "transferred": ("{by} transferred this conversation to {to}.", "{by} a transféré cette conversation à {to}."),
    "solved": ("{agent} marked this conversation as solved. Write here if you need anything else.",
               "{agent} a marqué cette conversation comme résolue. Écrivez ici si vous avez besoin d’autre chose."),
    "solved_auto": ("This conversation was marked as solved automatically, as we had no reply. Write here if you "
                    "need anything else.",
                    "Cette conversation a été marquée comme résolue automatiquement, faute de réponse. Écrivez ici "
                    "si vous avez besoin d’autre chose."),
    "solved_self_service": ("You said an article answered your question, so this conversation is marked as solved. "
                            "Write here if you need anything else.",
                            "Vous avez indiqué qu’un article a répondu à votre question : cette conversation est "
                            "marquée comme résolue. Écrivez ici si vous avez besoin d’autre chose."),
    "still_there": ("Are you still there? This conversation will be marked as solved if we don't hear back from you.",
                    "Êtes-vous toujours là\u00a0? Cette conversation sera marquée comme résolue sans nouvelles de "
                    "votre part."),
    "missed_with_email": ("Sorry, nobody is available to chat right now. We have your message and will answer by "
                          "email at {email}.",
                          "Désolés, personne n’est disponible pour le moment. Nous avons votre message et vous "
                          "répondrons par e-mail à {email}."),
    "missed_without_email": ("Sorry, nobody is available to chat right now. Leave your email address and we will "
                             "answer by email.",
                             "Désolés, personne n’est disponible pour le moment. Laissez votre adresse e-mail, nous "
                             "vous répondrons par e-mail."),
    # Who is there, for the greeting (chat/sites.py greeting): names, and the wait at the queue's average.
    "available_one": ("{names} is online and can answer you now.", "{names} est en ligne et peut vous répondre tout "
                      "de suite."),
    "available_many": ("{names} are online and can answer you now.", "{names} sont en ligne et peuvent vous répondre "
                       "tout de suite."),
    "busy_one": ("{names} is online; the wait is about {wait}.", "{names} est en ligne\u202f; l’attente est "
                 "d’environ {wait}."),
    "busy_many": ("{names} are online; the wait is about {wait}.", "{names} sont en ligne\u202f; l’attente est "
                  "d’environ {wait}."),
    "nobody_online": ("Nobody is online right now: leave a message and we will answer by email.",
                      "Personne n’est en ligne pour le moment\u00a0: laissez un message, nous vous répondrons par "
                      "e-mail."),
    "under_a_minute": ("less than a minute", "moins d’une minute"),
    "minutes": ("{n} minutes", "{n} minutes"),
    "one_minute": ("1 minute", "1 minute"),
    "and": ("{a} and {b}", "{a} et {b}"),
    # The values a notice names when nothing better is known.
    "an_agent": ("An agent", "Un conseiller"),
    "another_team": ("another team", "une autre équipe"),
}


def text(code: str, locale: str | None, **values) -> str:
    """The notice in the language of `locale` (a visitor's BCP 47 tag), its values filled in."""
    return TEXTS[code][language(locale) == "fr"].format(**values)


def names(people: list[str], locale: str | None) -> str:
    """"Dana", "Dana and Alex", "Dana, Alex and Sam"."""
    if len(people) <= 1:
        return "".join(people)
    return text("and", locale, a=", ".join(people[:-1]), b=people[-1])


def wait(seconds: int, locale: str | None) -> str:
    """A wait in words, to the minute."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return text("under_a_minute", locale)
    return text("one_minute", locale) if minutes == 1 else text("minutes", locale, n=minutes)


def team_label(site_texts: dict | None, group: str, locale: str | None) -> str:
    """What the visitor reads for a group: the site's label in their language (settings.texts[lang].teams),
    else "another team". Internal group names are never shown to visitors."""
    labels = ((site_texts or {}).get(language(locale)) or {}).get("teams") or {}
    return labels.get(group) or text("another_team", locale)
