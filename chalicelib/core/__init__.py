"""Pure rules with no AWS in them: the clock, field validation, origin checks."""
