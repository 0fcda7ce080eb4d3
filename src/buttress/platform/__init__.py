"""What every domain builds on and nothing domain-specific: the component contract
(:mod:`buttress.platform.component`), the API's role checks, errors and catalog dependency
(:mod:`buttress.platform.auth`, :mod:`buttress.platform.http`) and the CLI's shared context
(:mod:`buttress.platform.cli`). A domain imports these, never ``buttress.server`` or
``buttress.cli``; see docs/architecture.md."""
