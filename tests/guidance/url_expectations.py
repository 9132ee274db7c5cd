from tests.url_permissions import Expect

# Public pages, the same for everyone and for nobody signed in.
EXPECTATIONS = [
    Expect(
        "guidance:page",
        default=200,
        anonymous=200,
        kwargs=lambda world, persona, own: {"slug": "glossary"},
        other_default=200,
    ),
]
