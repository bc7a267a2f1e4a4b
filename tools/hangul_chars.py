"""Print the character set for the viz's embedded Korean font subset (viz/assets/fonts/NotoSansKR-subset.otf).

Usage (see viz/assets/fonts/SOURCE.md for the whole regeneration recipe):

    python3 tools/hangul_chars.py > /tmp/chars.txt
    pyftsubset ... --text-file=/tmp/chars.txt ...

The text written to stdout (UTF-8) contains:

* the 2,350 KS X 1001 Hangul syllables (EUC-KR rows 0xB0..=0xC8, cells
  0xA1..=0xFE, decoded with Python's ``euc-kr`` codec; undecodable cells are
  skipped);
* all Hangul compatibility jamo U+3131..=U+318E;
* UI symbols: arrows U+2190..=U+21FF, bullet, ellipsis, middle dot, check and
  cross marks, play/pause/stop, warning sign, star;
* every non-ASCII character found in the repository's Korean-bearing sources
  (``sim/src``, ``scenarios``, ``README.md``, ``docs/curriculum.md``,
  ``viz/src``, ``viz-model/src``). Missing files or folders are skipped, so the
  script keeps working as the viz crates appear and grow.

Characters the source font lacks (some of the symbols) are simply dropped by
pyftsubset. Needs only the Python standard library.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (folder or file, glob pattern) relative to the repository root.
SOURCES = [
    ("sim/src/explain_ko.rs", None),
    ("sim/src", "**/*.rs"),
    ("scenarios", "**/*.ron"),
    ("README.md", None),
    ("docs/curriculum.md", None),
    ("viz/src", "**/*.rs"),
    ("viz-model/src", "**/*.rs"),
]

SYMBOLS = (
    [chr(c) for c in range(0x2190, 0x2200)]  # Arrows block
    + [
        "\u2022",  # • bullet
        "\u2026",  # … ellipsis
        "\u00b7",  # · middle dot
        "\u2713",  # ✓ check mark
        "\u2717",  # ✗ ballot x
        "\u2715",  # ✕ multiplication x
        "\u23f8",  # ⏸ pause
        "\u25b6",  # ▶ play (black right-pointing triangle)
        "\u23f5",  # ⏵ play (media)
        "\u23f9",  # ⏹ stop
        "\u26a0",  # ⚠ warning sign
        "\u2605",  # ★ black star
    ]
)


def ks_x_1001_syllables():
    out = []
    for lead in range(0xB0, 0xC9):
        for trail in range(0xA1, 0xFF):
            try:
                ch = bytes([lead, trail]).decode("euc-kr")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(ch)
    return out


def compat_jamo():
    return [chr(c) for c in range(0x3131, 0x318F)]


def source_files():
    seen = set()
    for rel, pattern in SOURCES:
        base = REPO / rel
        if pattern is None:
            candidates = [base] if base.is_file() else []
        elif base.is_dir():
            candidates = sorted(p for p in base.glob(pattern) if p.is_file())
        else:
            candidates = []
        for path in candidates:
            if path not in seen:
                seen.add(path)
                yield path


def repo_non_ascii():
    chars = set()
    for path in source_files():
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        chars.update(ch for ch in text if ord(ch) > 0x7F)
    # Controls and surrogates/unpaired junk are of no use in a font subset.
    return sorted(ch for ch in chars if ch.isprintable() or ch == "\u00a0")


def main():
    groups = [ks_x_1001_syllables(), compat_jamo(), SYMBOLS, repo_non_ascii()]
    seen = set()
    lines = []
    for group in groups:
        line = []
        for ch in group:
            if ch not in seen:
                seen.add(ch)
                line.append(ch)
        if line:
            lines.append("".join(line))
    sys.stdout.buffer.write(("\n".join(lines) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
