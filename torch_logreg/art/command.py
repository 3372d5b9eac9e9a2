"""``train.py art --style STYLE [--content CONTENT] [--run-dir RUN] [--resume] [art.key=value ...]``."""

from __future__ import annotations

import argparse
import json

from ..errors import UsageError
from .config import ArtConfig, art_config


def art_parser(prog: str, parser_class) -> argparse.ArgumentParser:
    keys = "\n".join(
        f"  art.{name}={_as_typed(info.get_default(call_default_factory=True))}  {info.description}"
        for name, info in ArtConfig.model_fields.items()
    )
    parser = parser_class(
        prog=f"{prog} art",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Texture synthesis (no --content) or style transfer (Gatys, Ecker & Bethge), every "
        "gradient by hand.\nflower.jpg and china.jpg are built in (scikit-learn's sample "
        "photographs, CC BY 2.0).",
        epilog="config keys, as art.key=value (default, meaning):\n" + keys,
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="art.key=value", help="e.g. art.size=256 art.iterations=300"
    )
    parser.add_argument(
        "--style", default=None, help="style image(s), comma-separated for a blend (default: flower.jpg)"
    )
    parser.add_argument(
        "--content", default=None, help="content image: style transfer (default: none, a texture)"
    )
    parser.add_argument("--run-dir", metavar="DIR", default=None, help="run folder (default: runs/art-…)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _as_typed(value) -> str:
    """A default as it is typed after ``art.key=``: null, true, false, 256."""
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def art_main(argv: list[str], prog: str, parser_class) -> int:
    from .run import run

    args = art_parser(prog, parser_class).parse_intermixed_args(argv)
    if args.resume and not args.run_dir:
        raise UsageError("--resume continues the run in --run-dir DIR; give --run-dir")
    config = art_config(args.overrides)
    style = (
        [name.strip() for name in args.style.split(",")]
        if args.style is not None  # an empty --style "" is an empty name, refused, not the default
        else ([] if args.resume else ["flower.jpg"])
    )
    folder = run(
        style,
        args.content,
        config,
        args.run_dir,
        resume=args.resume,
        overwrite=args.overwrite,
        command=[prog, "art", *argv],
    )
    print(f"run folder: {folder}")
    return 0
