"""matplotlib set up for the charts of the what-if and the report: no screen, and Chinese labels with a
CJK font when the machine has one (Debian: fonts-noto-cjk)."""

from __future__ import annotations

from functools import cache

# Simplified Chinese first: the star labels (准星, 一星 ...) and the brands are written in it
PREFERRED = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei")


@cache
def pyplot():
    """matplotlib's pyplot on the Agg backend, its font the CJK one when there is one."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = cjk_font()
    plt.rcParams["font.family"] = [*([font] if font else []), "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


@cache
def cjk_font() -> str | None:
    """A CJK font matplotlib can use, or None. matplotlib's font list is cached on first use; a font
    installed after that (apt-get install fonts-noto-cjk) is found by reading the fonts again."""
    from matplotlib import font_manager

    def found() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        preferred = [n for n in PREFERRED if n in names]
        others = sorted(n for n in names if "CJK" in n)
        return (preferred or others or [None])[0]

    font = found()
    if font is None:
        font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)
        font = found()
    return font
