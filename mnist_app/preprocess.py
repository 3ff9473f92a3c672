"""A user's image -> 784 values shaped like an MNIST digit.

MNIST digits (LeCun et al.) were made like this: the NIST digit was size-normalised to fit a
20x20 box keeping its aspect ratio (with antialiasing, so edges are grey), then placed in a
28x28 field so that its centre of mass sits at the centre. Pixels are ink-high: background 0,
stroke cores 1.0 (after dividing the bytes by 255). Measured on the training set the centre of
mass, in row/column index coordinates, is (14.0, 14.0) +- 0.29 -- i.e. the original shift was a
whole number of pixels. We place it at exactly (14, 14) with a sub-pixel shift instead, by
resampling straight from the source image with a fractional source box (one resampling step, no
second blur).

A user's drawing is none of that, so `image_to_mnist` does, in order:

1. **open** (`open_image`): every way a file can be bad becomes an ImageError naming the file --
   missing, a directory, empty, not an image, truncated, or a decompression bomb (refused from the
   size declared in the header, before any pixel is decoded). GIFs/animations: first frame.
   Photos are turned upright as their EXIF Orientation tag says (phones store portraits sideways).
2. **greyscale** (`to_grey`): any Pillow mode (1, L, LA, P with or without transparency, RGB,
   RGBA, I;16, I, F, CMYK ...) -> float32 luminance in [0, 1]. Transparency is composited onto a
   background: white, unless the ink itself is light (then black) -- whichever shows the ink.
   Very large images are box-reduced first so memory stays bounded -- darkened over the block
   first when the average would lose most of a thin pen's depth (a 1-2 px stroke in a 12 MP photo).
3. **frame and lighting**: a digital drawing's frame or a screenshot's window chrome
   (`remove_canvas_frame`) and a photo's table (`remove_outside_sheet`; also when a shadow cast
   across the sheet darkens it to the table's side of the split) get the paper's colour -- under
   light falling off across the sheet, the paper's own fitted surface carried on past its edge.
   A flash's **glare**, which pushes paper and ink towards white, is taken out by dividing each
   pixel's darkness by the paper's round it (`_without_glare`).
   **Even lighting** (`flatten_lighting`): a photo whose paper is brighter on one side than the
   other (fitted on the border as a smooth surface) is divided by that surface -- or, when a shadow
   cast across the sheet makes a step no smooth surface follows, by the paper's local level.
   Evenly lit images and images under 64 px are left exactly as they are.
4. **polarity and ink** (`ink_map`): the background level is the median of the border pixels;
   ink is whichever side (darker or lighter) departs from it the most. Ink strength is measured
   relative to the ink contrast; anything fainter than NOISE_FRACTION of it, or not clearly
   above the noise measured on the border (paper texture, dithering, JPEG ringing, sensor noise),
   is treated as background; a dim photo whose sensor noise is as strong as the ink is smoothed
   first. No ink at all -> "no digit found". Then printed lines, creases, a ring, box or underline
   drawn apart from the digit, and specks away from it go (`_photo_ink`).
5. **crop, scale, centre** (`center_digit`): crop to the ink's bounding box, scale so the longer
   side is 20 px (antialiased: Pillow BOX when shrinking -- an exact area average -- bilinear when
   enlarging), and place it in 28x28 with its centre of mass at (14, 14).

``raw=True`` (`--no-preprocess`) skips 3-5 for images already in MNIST format: pixels are taken
as they are (only inverted if the image is dark-on-light). An image that is not 28x28 is refused:
silently squeezing a 400x400 drawing into 28x28 gave a confident wrong answer.
The same raw path is chosen automatically for a 28x28 image that already looks like an MNIST
digit (ink box 19-21 px, centre of mass within 1 px of (14, 14)), so MNIST digits saved as PNG
come back bit-for-bit.
"""

from __future__ import annotations

import io
import re
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_app.errors import ImageError
from mnist_app.image_format import SIDE

BOX = 20  # the longer side of the digit's bounding box after size normalisation
CENTER = 14.0  # MNIST centre of mass, row/column index coordinates (measured: 14.0 +- 0.29)

MAX_PIXELS = 40_000_000  # refuse images whose header declares more (a 40 MP photo is still fine)
MAX_FILE_BYTES = 200 * 1024 * 1024  # no legitimate digit drawing is bigger than this on disk
WORK_PIXELS = 1_000_000  # larger images are box-reduced to about this many pixels first
# ... unless that average keeps under THIN_KEPT of the depth of the darkest ink (the pixels at least
# THIN_CORE of the way from the paper to it, reduced so that a thin stroke keeps its depth): a pen
# 1-2 px wide in a 12 MP photo keeps a quarter of it; a stroke as wide as the block keeps it all
THIN_KEPT = 0.5
THIN_CORE = 0.5

LIGHTING_MIN_SIDE = 64  # smaller images are never photos with a lighting gradient ...
UNEVEN_LIGHT = 0.15  # ... larger ones are evened out if the paper's brightness varies by more than
MIN_LIGHT_RANGE = 0.03  # 15% of its median level and by more than 3% of full scale
# A cast shadow (the phone or the hand over the sheet) has an edge no quadratic can follow:
SHADOW_WINDOW = 0.15  # the paper's local level: a grey closing over this share of the shorter side
SHADOW_MISFIT = 0.1  # a shadow's edge: that level departs from the quadratic by >= 10% of the paper's
SHADOW_AREA = 0.05  # level over >= 5% of the frame
SHADOW_MIN_LEVEL = 0.4  # and its paper keeps >= 40% of the lit paper's level (darker: a table, not a shadow)
# The sheet's edge under such a shadow (remove_outside_sheet): the table's median at most 0.8x the
# shadowed paper's. Measured: tables beside shadowed sheets 0.22-0.73 of it; the dim side of an
# evenly falling light, with a printed line near the frame's edge taken for a sheet's edge, 0.84-0.87.
SHADOW_TABLE_RATIO = 0.8
# ... and that split closed over 1% of the shorter side: a table's grain, as light as the shadowed
# paper in places, left holes in it that cut the side's dark run short
TABLE_GRAIN = 0.01
# The paper beyond the sheet's edge (_paper_beyond): carried on as the sheet's fitted surface
# when that surface misses no part of an 8 x 8 split of the frame by more than 7.5% of the paper's
# level on average (measured on 320 photos with the sheet's edge: smooth light <= 4.9%, a cast
# shadow >= 10.4%)
PAPER_PARTS = 8
PAPER_MISFIT = 0.075
# A flash's glare (_without_glare): the paper's local level rises towards white by >= GLARE_RISE of
# the way from the paper's median level (and by >= GLARE_MIN_RISE of full scale); the level is
# followed on a copy reduced to GLARE_COARSE px on its shorter side (a hotspot is smooth)
GLARE_RISE = 0.3
GLARE_MIN_RISE = 0.08
GLARE_COARSE = 128
GLARE_MAX_GAIN = 10.0  # darkness is restored at most 10x (a hotspot keeping under 10% of the contrast is lost)
# A hotspot rises smoothly to its peak: where the level rises by >= GLARE_TOP of its peak rise is a
# small part of where it rises by >= GLARE_FOOT (0.30 for a Gaussian; measured on 619 glare photos:
# median 0.31, 90% under 0.47, 3 from 0.7). The lit side of a shadow cast across most of the sheet
# is a plateau ending at a sharp edge (54 such photos: median 0.84, 46 from 0.7). From
# GLARE_PLATEAU, not glare.
GLARE_TOP, GLARE_FOOT = 0.7, 0.3
GLARE_PLATEAU = 0.7
# Brighter paper may also be more light falling on that part of the sheet (a flash on matte paper, or
# light falling off across it: it multiplies, so the ink there is as dark as ever, or darker
# relative to its paper). It is glare only if the ink, its darkness restored with the gain (at most
# GLARE_TEST_GAIN: a hotspot clipped at white overstates it) ...
GLARE_TEST_GAIN = 2.0
GLARE_INK_LIMIT = 1.2  # ... is no darker than black (x full scale) ...
GLARE_INK_SEEN = 0.1  # (ink: darker than the paper round it by 10% of full scale, restored)
GLARE_LIT_GAIN = 1.2  # ... some of it lies where the gain is >= 1.2 (else there is nothing to restore) ...
GLARE_MIN_INK = 50  # ... and, when >= 50 ink pixels span gains whose logs spread by >= 0.1, ...
GLARE_GAIN_SPREAD = 0.1
GLARE_SLOPE = 0.1  # ... it is not restored darker where the gain is higher (log-log slope; measured on
# 309 glare photos: median -0.5, 90% under -0.15, 5 over 0.1; on 127 photos of light falling off
# across the sheet: median 0.4, 90% over 0.19),
GLARE_SURE_GAIN = 1.8  # or, when not, the ink's median gain is >= 1.8 (light falling off: under 1.5)
MIN_CONTRAST = 0.08  # ink must differ from the background by >= 8% of full scale ...
FAINT_CONTRAST = 0.04  # ... or by >= 4% and FAINT_SNR x the paper's noise (faint pencil)
FAINT_SNR = 6.0
MNIST_PAPER = 0.1  # a 28x28 image is taken raw only if its background is within 10% of black/white
MNIST_CONTRAST = 0.5  # and its ink differs from it by >= half the full scale
NOISE_FRACTION = 0.2  # ink fainter than this fraction of the ink contrast is background ...
MAX_NOISE_FRACTION = 0.5  # ... or than 1.25 x the noise seen on the border, up to this fraction
# A dim photo (ISO noise as strong as the ink): when the border's 98% quantile passes that cap and
# DENOISE_SIGMAS x the noise's own standard deviation does too, the image is smoothed first
# (Gaussian, DENOISE_SIZE x its shorter side, >= 1 px) and the ink measured again -- kept if the
# border's quantile then falls under the cap (paper; pure noise does not).
DENOISE_SIGMAS = 3.0
DENOISE_SIZE = 0.004

# The only formats Image.open may pick: Pillow would also hand an EPS or PDF (whatever its file
# name) to Ghostscript, an outside program; such files are "not an image" here. (JPEG includes
# the MPO variant some cameras write; PPM is also PGM/PBM.)
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "AVIF", "PPM")

# A piece of ink joins the digit if it carries at least this share of the ink kept so far and lies
# within this many times the kept box's longer side of it (pieces touching the image's edge need
# EDGE_SHARE x the share). Tiny pieces inside the box count (dotted strokes); specks further out do not.
KEEP_RULES = ((0.002, 0.0), (0.01, 0.08), (0.04, 0.3), (0.25, 1.0))
# If the digit's pieces hold less than this share of all the ink, the "specks" are the image
# (noise, texture): nothing is dropped, so the unsure rule sees it as it is.
MIN_DIGIT_SHARE = 0.5
MIN_DIGIT_DENSITY = 8  # ... unless they hold this many times more ink per pixel of their box than the rest
EDGE_WEIGHT = 0.3  # choosing the digit's core, a piece touching the image's edge weighs this much
EDGE_SHARE = 6  # and to join the digit it needs this many times the share of ink (a crease, an edge)
EDGE_GROWTH = 1.5  # and may not make the digit's box longer than this x its longer side
# A piece touching the image's edge is a solid region (a wedge of shadow, a strip of table), not the
# digit's ink, when it lies SOLID_DEPTH x deeper than the pen of the heaviest piece inside the frame
# -- a stroke: its box's longer side >= SOLID_STROKE x its depth -- and it meets the frame along >=
# SOLID_CONTACT x its depth (a stroke crossing the edge: about 2x) or that stroke's box is >=
# SOLID_SPAN x as long as the piece's (a marker's digit beside a stray thin line is neither).
SOLID_DEPTH = 4.0
SOLID_STROKE = 8.0
SOLID_CONTACT = 4.0
SOLID_SPAN = 0.5
# The sheet's edge (remove_outside_sheet): a dark run along >= 85% of a side, straight within 3% of
# the side; light paper over >= 20% of the frame and >= 70% of what lies inside the edges.
SHEET_EDGE_COVER = 0.85
# A digital drawing's frame (remove_canvas_frame): >= 50% of the pixels exactly one grey (the
# canvas; a photo's paper is never that flat); a frame or chrome pixel differs from it by >= 10% of
# full scale; a line from edge to edge covers >= 90% of its row (column); a drawn box spans >= half
# the image each way and its ink runs along >= 90% of each side, within 3% of the side (>= 3 px).
CANVAS_SHARE = 0.5
FRAME_CONTRAST = 0.1
FRAME_LINE = 0.9
FRAME_MIN_SIZE = 0.5
FRAME_SIDE = 0.9
FRAME_BAND = 0.03
# A canvas inside a window or a web page (_canvas_box): a flat rectangle of one grey covering
# >= 20% of the image, its colour along >= 90% of each side of its box, filling >= 90% of the box
# once what is drawn on it is counted in, and something drawn on it.
CANVAS_MIN_AREA = 0.2
CANVAS_EDGE = 0.9
CANVAS_FILL = 0.9
# ... one grey within 8 of 255 (a JPEG rings round edges), >= 70% of it exactly that grey
CANVAS_TOLERANCE = 8
CANVAS_EXACT = 0.7
# Printed paper lines (remove_paper_lines): straight, tilted up to 4 degrees (0.25 degree steps: a
# 1-px line 1,000 px long drifts off its row by 2 px at 0.25 degrees), ink along >= 20% of the
# image's width (faint lines break into dashes), from end to end over >= 80% of it or reaching its
# edge (a digit's bar spans the digit only), <= 0.8% of its shorter side (>= 3 px) thick, and not
# 2.5x darker than the line's median (a pen's stroke lying on a faint printed line).
LINE_TILTS = tuple(np.arange(-4.0, 4.01, 0.25))
# ... and further, to 8 degrees, only when the best tilt is the last of LINE_TILTS on its side: a
# photo turned a few degrees turns its printed lines with it (paper lines +-2.5 and a photo turned
# +-6 measured), and searching every lined photo that far would double the tilts tried.
LINE_MAX_TILT = 8.0
# ... taken only when its sums are 1.25x as peaky: lines turned past 4 degrees measured 1.4-20x,
# a low-light photo's leftover grain, peakiest by chance at 4, 1.0-1.14x (its rows then counted
# as lines, and the grain's thin parts removed, left clumps read as "1" or "5").
LINE_WIDE_GAIN = 1.25
# ... and converging (_best_fan): the tilt changing by up to 8 degrees from the frame's top to its
# bottom (a keystone of 15% turns a sheet's lines +-4.3 degrees at its ends), taken when it lines
# the ink up 1.15x as well as the best parallel family
FAN_SPREADS = (-8.0, -6.0, -4.0, -2.0, 2.0, 4.0, 6.0, 8.0)
FAN_GAIN = 1.15
LINE_MIN_SPAN = 0.2
LINE_MIN_EXTENT = 0.8
LINE_MAX_WIDTH = 0.008
LINE_INK_RATIO = 2.5
PEN_ON_LINE_RATIO = 1.5  # ... or 1.5x darker along >= PEN_ON_LINE_RUN x the thin limit (a stroke along the line)
PEN_ON_LINE_RUN = 2
PEN_BESIDE_RATIO = 1.2  # ... and its line holds 1.2x the ink (summed across it) just inside the stretch's
PEN_BESIDE_REACH = 4  # ends as just outside them, over 4x the thin limit each way (a pen begins and ends
# there; light falling off darkens a line gradually, and a tilted line's split rows come and go all along it)
PEN_BESIDE_SEARCH = 4  # ... outside: the line's nearest columns not "darker" themselves, within 4x the reach
PEN_ON_LINE_MIN = 0.8  # ... and near the pen's full strength (a line's own darker stretch is not)
LINE_MAX_ROW_SHARE = 0.5  # printed lines stand apart: if over half the rows are "lines", none are
LONE_LINE_MIN_REST = 0.1  # one line found, the rest of the ink < 10% of its pixels: it is the digit (a thin 1 across a tight crop)
# Lines as wide as a fine pen (a grid printed as boldly as the pen writes): runs across them up to
# GRID_MAX_WIDTH of the shorter side, ink along >= GRID_MIN_SPAN of the width and >= GRID_PEAK x
# the median row, and only as a family of >= GRID_MIN_LINES lines evenly spaced (to
# GRID_PITCH_TOLERANCE of their pitch): nothing but the width tells one such line from a stroke.
GRID_MAX_WIDTH = 0.035
GRID_MIN_SPAN = 0.05
GRID_PEAK = 3.0
GRID_MIN_LINES = 4
GRID_PITCH_TOLERANCE = 0.15
# A crease, a fold or a ruler's line across the frame at any tilt (remove_straight_lines): thin ink
# (runs across <= STRAIGHT_MAX_RUN x LINE_MAX_WIDTH's limit, both ways) on one straight line (a
# Hough transform over STRAIGHT_ANGLES) along >= STRAIGHT_MIN_COVER of its chord across the image,
# from end to end of >= LINE_MIN_EXTENT of it, reaching >= STRAIGHT_BEYOND x the chord past the
# rest of the ink's box at both ends (a digit's own straight stroke ends at the digit), the rest
# weighing >= STRAIGHT_MIN_REST x the line (a digit crossed by a crease; a thin 1 across a tight
# crop, with only specks beside it, is the digit itself), at most STRAIGHT_MAX_LINES of them.
STRAIGHT_ANGLES = tuple(np.arange(0.0, 180.0, 0.5))
STRAIGHT_MAX_RUN = 1.5
STRAIGHT_MIN_COVER = 0.5
STRAIGHT_BEYOND = 0.1
STRAIGHT_MIN_REST = 0.25
STRAIGHT_MAX_LINES = 3
SHEET_EDGE_STRAIGHT = 0.03
SHEET_EDGE_RAGGED = 0.02  # the edge's run may pass the fitted line by this share of the side
SHEET_EDGE_JUMP = 0.4  # across the edge (+-1% of the side) the brightness changes by >= 40% of dark -> paper
SHEET_MIN_PAPER = 0.2
SHEET_MIN_PAPER_INSIDE = 0.7
SECOND_SIDE_LEVEL = 0.55  # a side cut on the second pass lies under 55% of the lit paper (its 90th percentile)
# The whole sheet inside the frame (a sticky note, a card, a scrap of paper on a desk): the table
# covers >= SURROUND_BORDER of the frame's border, and the paper is one light piece (its ink's holes
# filled) covering >= SURROUND_RECTANGLE of the smallest rectangle round it (a sheet, maybe tilted;
# an ellipse covers 79%), with dark ink inside covering >= SURROUND_MIN_INK of it.
SURROUND_BORDER = 0.9
SURROUND_RECTANGLE = 0.9
SURROUND_MIN_INK = 0.005
# A mark the writer made round or under the digit (remove_marks), a piece of its own: a ring or a
# printed form's box is a piece that lies in >= RING_COVER of the directions (10-degree steps) seen
# from the centre of the ink inside its box, that ink weighing >= RING_INNER_SHARE x the ring and
# clear of it by RING_CLEARANCE x the ring's own width (twice its 90% quantile of distance to
# paper); an underline is a piece at most UNDERLINE_FLAT x as tall as wide, straight (its pixels'
# spread across its axis <= UNDERLINE_STRAIGHT x its mean thickness; a bar's is 1/sqrt(12) = 0.29),
# under all the rest's heavy ink (a gap of >= UNDERLINE_GAP x its height, >= 2 px, and <= its
# height), spanning >= UNDERLINE_SPAN of its width.
RING_COVER = 0.9
RING_INNER_SHARE = 0.15
RING_CLEARANCE = 0.5
RING_SPECK = 0.01  # inside pieces lighter than this x the ring are grain (a 0 on coarse paper), not a digit
UNDERLINE_FLAT = 0.25
UNDERLINE_STRAIGHT = 0.4
UNDERLINE_GAP = 0.03
UNDERLINE_SPAN = 0.6
# MNIST's stroke width in its 28x28 field, measured as below on 300 test digits: median 2.25 px,
# 10-90% 1.55-3.25 px. Strokes outside STROKE_BAND x this are brought to it.
MNIST_STROKE = 2.25
BRIDGE_WIDTH = 0.04  # bridge_gaps: thinner strokes are thickened to this x the writing's height
BRIDGE_MAX_PIECES = 150  # ... if they are at most this many pieces (a skipping pen: tens; noise: thousands)
STROKE_BAND = (0.55, 1.75)
# join_skipped_ends: a skipping pen's gaps, looked for at SKIP_HEIGHT px tall. An end's direction is
# taken over its last SKIP_TRACE x the height. It is joined to the side of a stroke it points at
# (within SKIP_CONE degrees) up to SKIP_TO_STROKE x the height away, or to an end pointing back at
# it up to SKIP_TO_END away (each within SKIP_END_CONE degrees, the two together within
# SKIP_END_CONES: across a curve's gap the chord leaves both tangents by half the arc), if the way
# round along the strokes is >= SKIP_DETOUR x longer (a gap, not a bend).
SKIP_HEIGHT = 96
SKIP_TRACE = 0.08
SKIP_CONE = 35.0
SKIP_TO_STROKE = 0.2
SKIP_END_CONE = 50.0
SKIP_END_CONES = 80.0
SKIP_TO_END = 0.3
SKIP_DETOUR = 2.5
# A marker is thinned to this, on the thick side of MNIST's own widths (10-90%: 1.55-3.25 px),
# not to their median: eroded to 2.25 px, what a marker had made of a 9's small loop or a 7's
# short bar went too (docs/photos.md, fourth round: 2.25-3.5 measured).
THIN_STROKE = 2.75
MIN_INK_KEPT = 0.4  # thinning keeps at least this share of the ink pixels (less thinning if need be)

HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".avif", ".pgm", ".ppm", ".pbm", ".pnm"}
)


def _err(path: str | Path, problem: str) -> ImageError:
    return ImageError(f"{path}: {problem}")


# ----------------------------------------------------------------------------------------- open


def open_image(path: str | Path) -> Image.Image:
    """Open and decode an image file (first frame), or raise ImageError naming the file.

    The file is read into memory first (it is small: MAX_FILE_BYTES), then Pillow reads only the
    header; the declared width x height is checked against MAX_PIXELS *before* decoding, so a
    tiny PNG that claims to be 100000 x 100000 costs nothing. Pillow's own decompression-bomb
    warning/error (its limit is ~89 M pixels) is also turned into an ImageError.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise _err(p, "no such file") from None
    except OSError as exc:
        raise _err(p, f"cannot read ({exc.strerror or exc})") from None
    if p.is_dir():
        raise _err(p, "is a directory, expected an image file")
    if not stat.S_ISREG(st.st_mode):  # a pipe or device: its size says nothing, reading it may never end
        raise _err(p, "not a regular file (a pipe or device), expected an image file")
    if st.st_size == 0:
        raise _err(p, "empty file (0 bytes), not an image")
    if st.st_size > MAX_FILE_BYTES:
        raise _err(p, f"file too large ({st.st_size} bytes > {MAX_FILE_BYTES}); refusing to read it")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise _err(p, f"cannot read ({exc.strerror or exc})") from None
    return decode_image(data, p)


def decode_image(data: bytes, p: str | Path) -> Image.Image:
    """Decode an image held in memory (first frame, upright), or raise ImageError naming ``p``.

    The checks of `open_image` after reading the file: header first, pixel count before decoding.
    The web page's uploads come here without touching the disk.
    """
    if not data:
        raise _err(p, "empty file (0 bytes), not an image")
    # Register just the allowed plugins Pillow does not preload (else it imports all ~40 of them).
    from PIL import AvifImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            declared = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's own limit is not ours
            size = f"declared size {int(declared.group(1))} pixels" if declared else "declared size"
            raise _err(p, f"{size} exceeds the limit of {MAX_PIXELS} (decompression bomb?); "
                       "refusing to decode it") from None
        except UnidentifiedImageError:
            if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
                raise _err(p, "a HEIC/HEIF photo (the iPhone's default), which Pillow cannot read: "
                           "save or export it as JPEG or PNG") from None
            raise _err(p, f"not an image (not one of {', '.join(ALLOWED_FORMATS)})") from None
        except Exception as exc:  # noqa: BLE001 - any decoder surprise is this one file's problem
            if "Decompressed data too large" in str(exc):  # Pillow's cap on a PNG's zTXt/iCCP/iTXt chunk
                raise _err(p, "a compressed text or colour-profile chunk inflates past Pillow's limit "
                           "(decompression bomb?); refusing to decode it") from None
            raise _err(p, f"not a readable image ({type(exc).__name__}: {exc})") from None
        width, height = image.size
        if width <= 0 or height <= 0:
            raise _err(p, f"image has no pixels (declared size {width}x{height})")
        if width * height > MAX_PIXELS:
            raise _err(
                p,
                f"declared size {width}x{height} = {width * height} pixels exceeds the limit of "
                f"{MAX_PIXELS} (decompression bomb?); refusing to decode it",
            )
        try:
            image.seek(0)  # GIF/TIFF/APNG: first frame
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _err(p, "image is a decompression bomb; refusing to decode it") from None
        except EOFError:
            raise _err(p, "truncated image (unexpected end of file)") from None
        except Exception as exc:  # noqa: BLE001 - e.g. RuntimeError from a corrupt AVIF: this file only
            message = str(exc) or type(exc).__name__
            if "truncated" in message or "broken" in message.lower():
                raise _err(p, f"truncated or corrupt image ({message})") from None
            raise _err(p, f"corrupt image data ({message})") from None
    _upright(image)
    image.filename = str(p)  # so later steps (prepare's "no digit found") name it too
    return image


def _upright(image: Image.Image) -> None:
    """Turn the pixels the way the EXIF Orientation tag says, in place.

    Phones store a portrait photo's pixels sideways and set the tag, and viewers turn it
    upright, so a digit the user sees upright would otherwise reach the network lying on its
    side. A damaged EXIF block is ignored: the pixels are still fine.
    """
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError):
        pass


# ------------------------------------------------------------------------------------ greyscale

_TO_RGB = {"CMYK", "YCbCr", "LAB", "HSV", "RGBX"}
_ALPHA = {"LA", "La", "PA", "RGBA", "RGBa"}


def _reduce_factor(image: Image.Image) -> int:
    """The whole factor that leaves at most ~WORK_PIXELS of ``image`` (1: small enough as it is)."""
    w, h = image.size
    return 1 if w * h <= WORK_PIXELS else int(np.ceil(np.sqrt(w * h / WORK_PIXELS)))


def _reduce_large(image: Image.Image) -> Image.Image:
    """Box-reduce by a whole factor so that at most ~WORK_PIXELS remain (bounded memory/time)."""
    factor = _reduce_factor(image)
    return image if factor == 1 else image.reduce(factor)


def _keep_thin_strokes(big: Image.Image, grey: np.ndarray) -> np.ndarray:
    """``grey`` (``big`` box-reduced, its luminance as bytes) -- or, when that average kept under
    THIN_KEPT of the depth of the darkest ink, ``big`` reduced so that a thin dark stroke keeps it.

    A pen 1-2 px wide in a 12 MP phone photo, averaged over 4 x 4 blocks, keeps a quarter of its
    contrast and sinks under the paper's grain and uneven light ("no digit found", or the light's
    fall-off read as the digit). Each pixel first takes the darkest within a square of 2 x factor
    - 1 px (so the stroke covers a whole block wherever it lies), then the blocks are averaged:
    the stroke keeps its depth and the paper's grain is still averaged away. A stroke as wide as a
    block is as deep in the plain average, and such photos keep it.
    """
    plain = float(np.median(_border(grey)))
    if plain - float(np.quantile(grey, 0.0001)) >= THIN_KEPT * plain:
        return grey  # the plain average's ink is already half as deep as the paper is bright: no
        # reduction can make it twice as deep (black is 0), and the thin one need not be made
    factor = _reduce_factor(big)
    side = 2 * factor - 1
    darkest = np.array(big.convert("L"))
    covered = 1
    # the darkest of `side` pixels from each one rightwards and downwards, doubling the reach each
    # pass (numpy: ndimage.minimum_filter gives the same inside but took ~190 ms on a 12 MP photo,
    # this 16-60 ms; the first `half` rows and columns keep the forward window)
    while covered < side:
        step = min(covered, side - covered)
        np.minimum(darkest[:, :-step], darkest[:, step:], out=darkest[:, :-step])
        np.minimum(darkest[:-step], darkest[step:], out=darkest[:-step])
        covered += step
    half = factor - 1  # ... centred on the pixel
    darkest[half:, half:] = darkest[:-half, :-half].copy()
    thin = np.asarray(Image.fromarray(darkest).reduce(factor))
    paper = float(np.median(_border(thin)))
    depth = paper - float(np.quantile(thin, 0.0001))
    if thin.shape != grey.shape or depth < MIN_CONTRAST * 255:
        return grey  # no dark ink to speak of in this one either (a blank page, light ink on dark)
    core = thin <= paper - THIN_CORE * depth
    kept = (plain - grey[core].astype(np.float32)) / (paper - thin[core].astype(np.float32))
    return thin if float(np.median(kept)) < THIN_KEPT else grey


def to_grey(image: Image.Image) -> tuple[np.ndarray, float]:
    """Luminance of any Pillow image, transparency composited: ``(array, full_scale)``.

    ``array / full_scale`` is the luminance in [0, 1]. The array is kept in its integer type when
    no compositing was needed, so MNIST-format images can be inverted exactly (255 - byte).
    """
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode in _TO_RGB:
        image = image.convert("RGB")
    elif mode in ("La", "RGBa", "PA"):
        image = image.convert("RGBA")
    elif mode.startswith("I;16"):
        arr = np.asarray(image).astype(np.uint16)  # 16-bit greyscale (e.g. 16-bit PNG)
        img32 = Image.fromarray(arr.astype(np.int32), "I")
        image = img32
    mode = image.mode
    if mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        image = image.convert("RGBA" if "A" in mode else "RGB")
        mode = image.mode
    big, image = image, _reduce_large(image)

    if mode in ("LA", "RGBA"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) * np.float32(1 / 255)
        lum = np.asarray(image.convert("L"), dtype=np.float32) * np.float32(1 / 255)
        if float(alpha.min()) >= 1.0:
            return np.asarray(image.convert("L")), 255.0
        # Composite onto white (the usual viewer background) -- unless the ink is light, when a
        # white background would hide it; then onto black. Choose by the visible contrast.
        on_white = lum * alpha + (1 - alpha)
        on_black = lum * alpha
        if float(np.ptp(on_black)) > float(np.ptp(on_white)):
            return on_black, 1.0
        return on_white, 1.0
    if mode in ("L", "RGB"):
        grey = np.asarray(image.convert("L"))
        return (grey if image is big else _keep_thin_strokes(big, grey)), 255.0
    arr = np.asarray(image)
    if mode == "I":
        peak = float(arr.max()) if arr.size else 0.0
        full = 255.0 if peak <= 255 else (65535.0 if peak <= 65535 else peak)
        return arr, full
    # "F"
    arr = np.nan_to_num(arr.astype(np.float32))
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= 1.0 and lo >= 0.0:
        return arr, 1.0
    return (arr - lo), max(hi - lo, 1e-12)


def _border(a: np.ndarray) -> np.ndarray:
    """The pixels of a frame 2% of the shorter side wide (at least 1 px): where paper shows."""
    h, w = a.shape
    b = max(1, round(0.02 * min(h, w)))
    return np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[b:-b, :b].ravel(), a[b:-b, -b:].ravel()])


def flatten_lighting(grey: np.ndarray, full: float, *, sheet: bool = False) -> np.ndarray:
    """Even out uneven lighting (a phone photo of paper): divide by the paper's own brightness.

    A photo's paper is often much brighter on one side than the other; with one background level
    for the whole image the dim side would count as ink and swamp the digit. The paper's
    brightness is modelled as a smooth surface, a quadratic in x and y, fitted to the border (the
    frame is paper almost everywhere; pixels where the digit touches it are dropped as outliers
    over three robust refits). Each pixel is then divided by the surface and multiplied by the
    paper's median level: the light falling on a spot multiplies whatever it lights, paper and
    ink (or blackboard and chalk) alike. A shadow's sharp edge is followed by `_cast_shadow_paper`.

    Images smaller than LIGHTING_MIN_SIDE px (scans, drawings, MNIST-sized files) and images whose
    surface varies by less than UNEVEN_LIGHT of its median level (or MIN_LIGHT_RANGE of full
    scale) are returned as they are: evenly lit paper is left exactly alone -- unless ``sheet``
    (the sheet was cut out of its photo, and its painted border shows nothing of what falls
    across it): then a cast shadow is looked for all the same (`_under_cast_shadow`).
    """
    h, w = grey.shape
    if min(h, w) < LIGHTING_MIN_SIDE:
        return grey
    ys = _border(np.broadcast_to(np.arange(h)[:, None], (h, w)))  # each border pixel's row ...
    xs = _border(np.broadcast_to(np.arange(w)[None, :], (h, w)))  # ... and column
    step = max(1, ys.size // 1000)  # ~1,000 border samples pin down 6 coefficients plenty
    ys, xs = ys[::step], xs[::step]
    values = grey[ys, xs].astype(np.float64)
    low, level, high = np.quantile(values, (0.05, 0.5, 0.95))
    uneven = max(UNEVEN_LIGHT * float(level), MIN_LIGHT_RANGE * full)
    if high - low < uneven:  # evenly lit paper (the usual case): no fit needed
        return _under_cast_shadow(grey, full, float(level)) if sheet else grey

    fit = _paper_surface(ys, xs, values, h, w, full)
    if fit is None:  # too few samples left to fit: leave the image alone
        return grey
    coef, keep, _ = fit

    def paper_at(n_rows: int, n_cols: int) -> np.ndarray:  # the fitted brightness on a grid
        parts = _quadratic(np.linspace(-1.0, 1.0, n_cols)[None, :], np.linspace(-1.0, 1.0, n_rows)[:, None])
        return sum(c * part for c, part in zip(coef, parts))

    level = float(np.median(values[keep]))
    coarse = paper_at(17, 17)  # enough to tell a real gradient from a few dark border pixels
    if float(coarse.max() - coarse.min()) < uneven:
        return _under_cast_shadow(grey, full, level) if sheet else grey
    flat = _divided_by_paper(grey, paper_at(h, w), level, full)
    # (dark ink on light paper only, as the evened-out image shows it: on a blackboard the
    # closing would take the chalk for board)
    shadowed = _cast_shadow_paper(grey) if _dark_on_light(flat, full)[0] else None
    if shadowed is not None:
        flat = _divided_by_paper(grey, shadowed, level, full)
    return np.clip(flat, 0.0, full).astype(np.float32)


def _divided_by_paper(grey: np.ndarray, paper: np.ndarray, level: float, full: float) -> np.ndarray:
    """``grey`` divided by the paper's brightness ``paper`` (at least 2% of full scale) and
    multiplied by its median ``level``: the light falling on a spot multiplies paper and ink alike."""
    return grey * (level / np.maximum(paper, 0.02 * full))


def _paper_surface(ys: np.ndarray, xs: np.ndarray, values: np.ndarray, h: int, w: int,
                   full: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A quadratic surface fitted to paper brightness ``values`` sampled at rows ``ys`` and
    columns ``xs`` of an h x w image: its coefficients (see _quadratic), which samples it kept and
    its value at each sample, or None when too few are left. Samples that are not paper (ink, a line) are dropped as
    outliers over three robust refits (3 x the residuals' scaled median absolute deviation)."""
    terms = np.stack(_quadratic(xs * (2.0 / (w - 1)) - 1.0, ys * (2.0 / (h - 1)) - 1.0), axis=1)
    keep = np.ones(values.shape, dtype=bool)
    for _ in range(3):
        used = terms[keep]
        try:
            coef = np.linalg.solve(used.T @ used, used.T @ values[keep])  # least squares
        except np.linalg.LinAlgError:
            return None
        fitted = terms @ coef
        residual = values - fitted
        spread = 1.4826 * float(np.median(np.abs(residual[keep]))) + 1e-3 * full
        keep = np.abs(residual) <= 3.0 * spread
    return coef, keep, fitted


def _under_cast_shadow(grey: np.ndarray, full: float, level: float) -> np.ndarray:
    """``grey`` divided by the paper's level under a cast shadow (`_cast_shadow_paper`), or as it
    is when there is none: flatten_lighting for a sheet cut out of its photo whose border looks
    evenly lit. A cut sheet is light paper, so the shadow is looked for whichever side looks like
    ink: a shadow over most of the sheet leaves the lit part the odd one out, as light ink on a
    dark ground would be."""
    shadowed = _cast_shadow_paper(grey)
    if shadowed is None:
        return grey
    return np.clip(_divided_by_paper(grey, shadowed, level, full), 0.0, full).astype(np.float32)


def _quadratic(u: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
    """The terms of a quadratic surface in x (``u``) and y (``t``), both scaled to [-1, 1]."""
    return [np.ones(np.broadcast(u, t).shape), u, t, u * u, u * t, t * t]


def _local_paper_level(grey: np.ndarray) -> np.ndarray:
    """The paper's local level: a grey closing over a square SHADOW_WINDOW of the shorter side
    (see _cast_shadow_paper)."""
    from scipy import ndimage  # lazily: predict's start-up stays light

    size = max(3, round(SHADOW_WINDOW * min(grey.shape)))
    return ndimage.grey_closing(grey, size=(size, size))


def _cast_shadow_paper(grey: np.ndarray) -> np.ndarray | None:
    """The paper's brightness under a cast shadow's edge, or None when there is no such edge.

    A shadow cast across the sheet (the phone or the hand) steps from lit to shadowed paper
    within a few pixels; the quadratic of `flatten_lighting` smooths the step over the whole
    frame and leaves a wedge of shadow darker than the noise threshold: a solid blob of "ink".
    The paper's own level is followed instead by a grey-level closing (a maximum then a minimum
    filter, Serra, *Image Analysis and Mathematical Morphology*, 1982) over a square SHADOW_WINDOW
    of the shorter side: it fills every dark feature narrower than the window (strokes, printed
    lines) and keeps steps, ramps and smooth light as they are. A quadratic is fitted to that
    level in turn; the level is used only where it departs from its own smooth fit by
    SHADOW_MISFIT of its median over SHADOW_AREA of the frame -- a step, which smooth light never
    makes (photos without one keep exactly their old input) -- and only when the darkest paper
    keeps SHADOW_MIN_LEVEL of the brightest (a dark table left in the frame is not paper to brighten).
    """
    h, w = grey.shape
    local = _local_paper_level(grey.astype(np.float32, copy=False))
    step = max(1, min(h, w) // 64)  # ~64 x 64 samples pin down a quadratic plenty
    sample = local[::step, ::step].astype(np.float64)
    t, u = np.meshgrid(np.linspace(-1.0, 1.0, sample.shape[0]), np.linspace(-1.0, 1.0, sample.shape[1]), indexing="ij")
    terms = np.stack(_quadratic(u, t), axis=-1).reshape(-1, 6)
    coef, *_ = np.linalg.lstsq(terms, sample.ravel(), rcond=None)
    misfit = np.abs(sample.ravel() - terms @ coef)
    darkest, middle, brightest = np.quantile(sample, (0.02, 0.5, 0.98))
    if float(np.mean(misfit > SHADOW_MISFIT * middle)) < SHADOW_AREA or darkest < SHADOW_MIN_LEVEL * brightest:
        return None
    return local


def _otsu(values: np.ndarray, lo: float, hi: float) -> float:
    """Otsu's threshold (IEEE SMC 9(1), 1979): the level splitting ``values`` into two classes
    with the largest between-class variance, from a 64-bin histogram over [lo, hi]."""
    step = (hi - lo) / 64
    bins = np.minimum(((values - lo) * np.float32(1 / step)).astype(np.int32), 63)
    counts = np.bincount(bins.ravel(), minlength=64)  # np.histogram is ~10x slower here
    edges = lo + step * np.arange(65)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts, dtype=np.float64)
    total = weight[-1]
    cum_mean = np.cumsum(counts * centres)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = (cum_mean[-1] * weight / total - cum_mean) ** 2 / (weight * (total - weight))
    return float(edges[1:][int(np.nanargmax(between[:-1]))])


def _edge_run(dark: np.ndarray) -> np.ndarray:
    """Per row: how many pixels from the left edge are dark before the first light one (the
    row's width when all of it is dark)."""
    light = ~dark
    return np.where(light.any(axis=1), np.argmax(light, axis=1), dark.shape[1])


def remove_outside_sheet(grey: np.ndarray, full: float) -> np.ndarray:
    """Paint the table, the sheet's dark edge and what lies beyond it with the paper's colour
    (see _paper_beyond).

    A photo of a sheet often shows its edge and the darker table (or the shadow beside it)
    along one or more sides; taken as ink it outweighs the digit. Split the image into dark and
    light (Otsu); from each side, count the dark pixels before the first light one, row by row
    (column by column). That side shows a sheet's edge when the run is there along almost the
    whole side (SHEET_EDGE_COVER; a stroke touching the edge covers only a few rows) and follows
    a straight line (the sheet is a rectangle, maybe tilted: residual <= SHEET_EDGE_STRAIGHT of
    the side, at least 1.5 px). Only for light paper that shows over SHEET_MIN_PAPER of the
    frame and fills most of what is left inside the edges -- a light digit on a dark ground has
    no such sheet. Under a shadow cast across the sheet the split is made again below the shadowed
    paper (SHADOW_TABLE_RATIO), and with one side painted, a second pass looks for another
    (SECOND_SIDE_LEVEL). Evenly framed images come back unchanged (the same array).
    """
    return _cut_sheet(grey, full)[0]


def _cut_sheet(grey: np.ndarray, full: float) -> tuple[np.ndarray, np.ndarray | None]:
    """remove_outside_sheet's image, and what it painted (True there; None when nothing)."""
    out, beyond = _cut_sheet_once(grey, full)
    if beyond is None:
        return out, None
    # Under a cast shadow one pass may find the table on one side only: on the other, the lit
    # table falls with the paper, or the dark run goes on into the shadowed paper. With that side
    # painted, a second pass looks again; the side it finds is cut if what lies beyond it is as
    # dark as a table (a shadow's edge along a side keeps more of the light: SECOND_SIDE_LEVEL).
    again, more = _cut_sheet_once(out, full)
    if more is None:
        return out, beyond
    added, inside = more & ~beyond, ~(beyond | more)
    if (not added.any() or not inside.any()
            or float(np.median(grey[added])) >= SECOND_SIDE_LEVEL * float(np.quantile(out[inside], 0.9))):
        return out, beyond
    return again, beyond | more


def _cut_sheet_once(grey: np.ndarray, full: float) -> tuple[np.ndarray, np.ndarray | None]:
    """One pass of _cut_sheet: one split into dark and light (two under a shadow), the sides it
    shows painted."""
    h, w = grey.shape
    if min(h, w) < 16:
        return grey, None
    g = grey.astype(np.float32, copy=False)
    lo, hi = float(g.min()), float(g.max())
    if hi - lo < MIN_CONTRAST * full:
        return grey, None
    threshold = _otsu(g, lo, hi)
    dark = g <= threshold
    out = _paint_outside(g, dark, full) if float((~dark).mean()) >= SHEET_MIN_PAPER else None
    if out is None and _dark_along_a_side(dark):
        # A shadow cast across the sheet (the phone, the hand) as well: the split above puts
        # the shadowed paper with the table, so the dark run from that side goes on into the
        # sheet and the sheet's edge is lost. The image then has three levels -- table, shadowed
        # paper, lit paper -- and the table is the darker part of the dark one (Otsu again, on
        # the frame's border: the ink, darker still, seldom reaches it), if what lies between
        # keeps a shadowed paper's level (SHADOW_MIN_LEVEL of the lit one) and the table is
        # clearly darker than it (SHADOW_TABLE_RATIO).
        edge = _border(g)
        edge = edge[edge <= threshold]
        # (a table and shadowed paper both on the border differ by 1 - SHADOW_TABLE_RATIO of
        # the paper's level at least; a dark ground with a few grey pixels is one level)
        spread = float(np.ptp(edge)) > (1 - SHADOW_TABLE_RATIO) * threshold
        table = g <= _otsu(edge, lo, threshold) if spread else dark
        if spread:
            # (a textured table -- wood grain -- split this low has light specks in it, each
            # stopping a side's dark run short of the sheet's edge: closed over TABLE_GRAIN)
            from scipy import ndimage  # lazily: only shadowed sheets pay its import

            size = max(3, round(TABLE_GRAIN * min(h, w)))
            table = ndimage.binary_closing(table, np.ones((size, size), dtype=bool), border_value=1)
        between = dark & ~table
        if between.any() and float((~table).mean()) >= SHEET_MIN_PAPER:
            shadowed = float(np.median(g[between]))
            if (shadowed >= SHADOW_MIN_LEVEL * float(np.median(g[~dark]))
                    and float(np.median(g[table])) <= SHADOW_TABLE_RATIO * shadowed):
                out = _paint_outside(g, table, full)
    return (grey, None) if out is None else out


def _dark_along_a_side(dark: np.ndarray) -> bool:
    """Whether the dark side of the split runs along SHEET_EDGE_COVER of one of the frame's sides."""
    return any(float(edge.mean()) >= SHEET_EDGE_COVER for edge in (dark[0], dark[-1], dark[:, 0], dark[:, -1]))


def _paint_outside(g: np.ndarray, dark: np.ndarray, full: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``g`` with what lies beyond the sheet's edges painted paper, and where that is, or None
    when ``dark`` (the dark side of a split) shows no sheet edge (see remove_outside_sheet)."""
    h, w = g.shape
    dark_level, light_level = float(np.median(g[dark])), float(np.median(g[~dark]))
    outside = np.zeros((h, w), dtype=bool)
    # each side as "the left edge" of a turned view; the cut is drawn back into that view
    for turn in range(4):
        view_dark = np.rot90(dark, turn)
        rows, cols = view_dark.shape
        run = _edge_run(view_dark)
        if float((run > 0).mean()) < SHEET_EDGE_COVER:
            continue
        fit_rows = np.flatnonzero((run > 0) & (run < cols // 2))
        if fit_rows.size < max(8, rows // 3):
            continue
        slope, offset = np.polyfit(fit_rows, run[fit_rows], 1)
        line = slope * np.arange(rows) + offset
        residual = np.abs(run[fit_rows] - line[fit_rows])
        if float(np.median(residual)) > max(1.5, SHEET_EDGE_STRAIGHT * cols) or float(line.max()) >= cols / 2:
            continue
        # an edge, not a shadow or dim light: the brightness jumps across the line (most of
        # the way from the dark side's level to the paper's within 2% of the side)
        at = run[fit_rows]  # the first light pixel of each row
        step = max(2, round(0.01 * cols))
        view_g = np.rot90(g, turn)
        jump = view_g[fit_rows, np.minimum(at + step, cols - 1)] - view_g[fit_rows, np.maximum(at - step, 0)]
        if float(np.median(jump)) < SHEET_EDGE_JUMP * (light_level - dark_level):
            continue
        margin = 1.0 + 0.01 * cols  # the edge's own soft shadow
        # the edge's own wiggles, but not a stroke that touches it: dark too, it would carry the
        # run on into the digit
        ragged = np.where(run <= line + SHEET_EDGE_RAGGED * cols, run, 0)
        cut = np.arange(cols)[None, :] < (np.maximum(line, ragged) + margin)[:, None]
        np.rot90(outside, turn)[...] |= cut
    if float(_border(dark).mean()) >= SURROUND_BORDER:  # a table all round: the whole sheet may show
        around = _around_whole_sheet(dark)
        if around.any():
            outside = around
    if not outside.any():
        return None
    inside = ~outside
    if not inside.any() or float((~dark[inside]).mean()) < SHEET_MIN_PAPER_INSIDE:
        return None
    out = g.copy()
    out[outside] = _paper_beyond(g, inside & ~dark, outside, full)
    return out, outside


def _paper_beyond(g: np.ndarray, paper: np.ndarray, outside: np.ndarray, full: float) -> np.ndarray | float:
    """The brightness to paint ``outside`` the sheet with: the median of its ``paper`` pixels, or,
    when the light falls off across the sheet, the paper's own surface carried on past its edge
    (under a cast shadow, the paper's local level: `_paper_level_carried`).

    `flatten_lighting` fits its surface to the frame's border. Painted one flat level beside
    paper that grows dim towards that side, the border holds a plateau next to a ramp, the
    quadratic fits neither, and what it misses reads as a wedge of "ink" (faint pencil on a sheet
    photographed on a table). So the paper pixels get the same robust quadratic (`_paper_surface`)
    and the outside is painted with it, held within the levels it takes on the sheet. Evenly lit
    sheets (the surface varies by less than flatten_lighting's UNEVEN_LIGHT / MIN_LIGHT_RANGE) and
    images too small to be evened out keep the flat median.
    """
    level = float(np.median(g[paper]))
    h, w = g.shape
    if min(h, w) < LIGHTING_MIN_SIDE:
        return level
    step = max(1, int(np.sqrt(h * w / 8000)))  # a few thousand samples pin down 6 coefficients plenty
    ys, xs = np.nonzero(paper[::step, ::step])
    ys, xs = ys * step, xs * step
    values = g[ys, xs].astype(np.float64)
    fit = _paper_surface(ys, xs, values, h, w, full)
    if fit is None:
        return level
    coef, kept, on_sheet = fit
    lowest, highest = float(on_sheet.min()), float(on_sheet.max())
    if highest - lowest < max(UNEVEN_LIGHT * level, MIN_LIGHT_RANGE * full):
        return level
    # a cast shadow's step is no quadratic: carried on, the fit would paint a ramp that is
    # neither the shadow nor the light; the paper's local level is carried on instead. The step
    # shows as a part of the sheet the surface misses on average.
    part = (ys[kept] * PAPER_PARTS // h) * PAPER_PARTS + xs[kept] * PAPER_PARTS // w
    counts = np.bincount(part, minlength=PAPER_PARTS**2)
    missed = np.bincount(part, values[kept] - on_sheet[kept], minlength=PAPER_PARTS**2)
    sampled = counts >= 20
    if float(np.abs(missed[sampled] / counts[sampled]).max(initial=0.0)) > PAPER_MISFIT * level:
        return _paper_level_carried(g, outside)
    c = coef.astype(np.float32)  # (_quadratic's terms, grouped: one pass over the frame)
    u, t = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :], np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    surface = (c[0] + c[2] * t + c[5] * t * t) + u * (c[1] + c[3] * u + c[4] * t)
    return np.clip(surface[outside], lowest, highest).astype(g.dtype)


def _paper_level_carried(g: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """For the ``outside`` pixels, the paper's local level carried past the sheet's edge: each
    takes the nearest pixel inside, and the paper's local level (`_local_paper_level`) of that
    fills the strokes and lines carried with it. A cast shadow's step goes on across the edge, so
    the shadow rule sees shadowed paper beside shadowed paper, lit beside lit."""
    from scipy import ndimage  # lazily: only shadowed sheets pay its import

    nearest = ndimage.distance_transform_edt(outside, return_distances=False, return_indices=True)
    return _local_paper_level(g[nearest[0], nearest[1]])[outside]


def _around_whole_sheet(dark: np.ndarray) -> np.ndarray:
    """What lies round a sheet seen whole on a table (True there), or all False when the light part
    is no such sheet (see SURROUND_RECTANGLE). The side-by-side rule of remove_outside_sheet
    needs a straight dark run from each side; round a whole sheet, tilted, the runs from a side
    meet two of its edges and no straight line fits them."""
    from scipy import ndimage  # lazily: only photos with a table all round pay its import

    h, w = dark.shape
    none = np.zeros((h, w), dtype=bool)
    labels, n = ndimage.label(~dark)
    if n == 0:
        return none
    sizes = np.bincount(labels.ravel())[1:]
    sheet = ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))
    area = float(sheet.sum())
    if area < SHEET_MIN_PAPER * h * w:
        return none
    # the smallest rectangle round it, over tilts in half-degree steps, from each row's first and
    # last pixel (its convex hull's corners are among them)
    first, last = np.argmax(sheet, axis=1), w - 1 - np.argmax(sheet[:, ::-1], axis=1)
    rows = np.flatnonzero(sheet.any(axis=1))
    points = np.concatenate([np.stack([xs, rows], axis=1) for xs in (first[rows], last[rows])]).astype(np.float64)
    best = np.inf
    for theta in np.deg2rad(np.arange(0.0, 90.0, 0.5)):
        u = points[:, 0] * np.cos(theta) + points[:, 1] * np.sin(theta)
        v = -points[:, 0] * np.sin(theta) + points[:, 1] * np.cos(theta)
        best = min(best, (np.ptp(u) + 1) * (np.ptp(v) + 1))
    if area < SURROUND_RECTANGLE * best:
        return none
    if float(dark[sheet].mean()) < SURROUND_MIN_INK:
        return none  # a light shape with nothing written on it (a thick chalk stroke)
    margin = 1.0 + 0.01 * min(h, w)  # the sheet's own soft edge and shadow
    return ndimage.distance_transform_edt(sheet) <= margin


def _canvas_between_lines(lines: np.ndarray) -> tuple[int, int]:
    """(start, stop) of the longest run of rows (columns) that are not lines: the canvas."""
    edges = np.diff(np.concatenate(([True], lines, [True])).astype(np.int8))
    starts, stops = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    if starts.size == 0:
        return 0, 0
    k = int(np.argmax(stops - starts))
    return int(starts[k]), int(stops[k])


def _joined(line: np.ndarray, next_row: np.ndarray) -> bool:
    """Whether ink of ``next_row`` touches ink of ``line`` (8-neighbours: straight or diagonal)."""
    near = line.copy()
    near[1:] |= line[:-1]
    near[:-1] |= line[1:]
    return bool((near & next_row).any())


def _canvas_box(q: np.ndarray) -> tuple[slice, slice, int] | None:
    """The largest canvas inside the image (its rows, columns and grey), or None: a flat piece
    of one grey (within CANVAS_TOLERANCE: a JPEG's ringing; mostly exact, CANVAS_EXACT), a
    rectangle (CANVAS_EDGE, CANVAS_FILL) smaller than the image, with something drawn on it (ink
    it surrounds)."""
    from scipy import ndimage

    counts = np.bincount(q.ravel(), minlength=256)
    near = np.convolve(counts, np.ones(2 * CANVAS_TOLERANCE + 1, dtype=np.int64), mode="same")
    peaks = [level for level in np.flatnonzero(near >= CANVAS_MIN_AREA * q.size)
             if counts[level] == counts[max(0, level - CANVAS_TOLERANCE):level + CANVAS_TOLERANCE + 1].max()]
    best, best_area = None, 0
    for level in peaks:
        flat = np.abs(q.astype(np.int16) - int(level)) <= CANVAS_TOLERANCE
        labels, _ = ndimage.label(flat)
        sizes = np.bincount(labels.ravel())
        objects = ndimage.find_objects(labels)
        for k in np.flatnonzero(sizes[1:] >= CANVAS_MIN_AREA * q.size) + 1:
            ys, xs = objects[k - 1]
            area = (ys.stop - ys.start) * (xs.stop - xs.start)
            if area == q.size or area <= best_area:
                continue  # the whole image: nothing lies round it
            piece = labels[ys, xs] == k
            band = max(2, round(FRAME_BAND * min(piece.shape)))
            if min(float(piece[:band].any(axis=0).mean()), float(piece[-band:].any(axis=0).mean()),
                   float(piece[:, :band].any(axis=1).mean()), float(piece[:, -band:].any(axis=1).mean())) < CANVAS_EDGE:
                continue
            if float((q[ys, xs][piece] == level).mean()) < CANVAS_EXACT:
                continue  # a photo's paper: grain, not one grey
            filled = ndimage.binary_fill_holes(piece)
            if float(filled.mean()) < CANVAS_FILL or not (filled & ~piece).any():
                continue
            best, best_area = (ys, xs, int(level)), area
    return best


def remove_canvas_frame(grey: np.ndarray, full: float) -> np.ndarray:
    """Paint a digital drawing's frame and window chrome with the canvas's colour.

    A screenshot of a paint program holds its toolbar, scrollbar, status bar, window border and
    the grey workspace round a small canvas; a digit-recogniser web page its caption and buttons;
    a drawing page's canvas often has a border, or a box drawn round the digit. Kept as ink,
    the toolbar's strip became a bar over the digit (a 1 read "7") and a box the digit's outline
    (read "8" or "0"); a border in the image's own border was taken for the background ("no
    digit found"). A web page's black canvas on white was itself the "ink" (nearly all read "0").
    0. A canvas inside a window or a page (_canvas_box): what lies round it gets its colour.
    Then, only for digital drawings (over CANVAS_SHARE of the pixels exactly one grey):
    1. Straight lines from edge to edge (>= FRAME_LINE of a row or column differs from the
    canvas) cut the image into panels; the canvas is the largest, the rest goes. Not where ink
    runs on from the line into the canvas (a 7's bar across a tight crop, into its stem), and a
    side holding nothing but lines counts only when the opposite side is cut too (a border round
    the whole image).
    2. A box drawn inside (an 8-connected piece spanning FRAME_MIN_SIZE of the image each way,
    its ink along >= FRAME_SIDE of each of its four sides) with other ink inside it: its ink
    along the sides goes (a digit touching it keeps the rest of its strokes).
    Images with no such frame come back unchanged (the same array).
    """
    h, w = grey.shape
    if min(h, w) < 16:
        return grey
    if grey.dtype == np.uint8 and full == 255.0:
        q = grey
    else:
        q = np.clip(np.round(grey.astype(np.float32) * np.float32(255.0 / full)), 0, 255).astype(np.uint8)
    canvas = _canvas_box(q)
    if canvas is not None:  # a canvas inside a window or a page: what lies round it goes
        ys, xs, level = canvas
        inside = np.zeros((h, w), dtype=bool)
        inside[ys, xs] = True
        q = np.where(inside, q, np.uint8(level))
        grey = np.where(inside, grey.astype(np.float32), np.float32(level * full / 255.0))
    counts = np.bincount(q.ravel(), minlength=256)
    level = int(np.argmax(counts))
    if counts[level] < CANVAS_SHARE * q.size:
        return grey
    frame = np.abs(q.astype(np.int16) - level) > FRAME_CONTRAST * 255
    spans = []
    for axis in (0, 1):  # 0: rows (a toolbar, a status bar), 1: columns (a scrollbar)
        lines = frame.mean(axis=1 - axis) >= FRAME_LINE
        start, stop = _canvas_between_lines(lines)
        spans.append((lines, start, stop))
    outside = np.zeros((h, w), dtype=bool)
    for axis, (lines, start, stop) in enumerate(spans):
        n = lines.size
        if not lines.any() or stop - start < FRAME_MIN_SIZE * n:
            continue
        # a side counts when no ink runs on from its lines into the canvas (a 7's bar into its
        # stem; looked at across the canvas only, where the other side's chrome is not), and
        # something other than lines lies beyond them or the other side is cut too
        _, across0, across1 = spans[1 - axis]
        if across1 - across0 < FRAME_MIN_SIZE * frame.shape[1 - axis]:
            across0, across1 = 0, frame.shape[1 - axis]
        view = (frame if axis == 0 else frame.T)[:, across0:across1]
        before = start > 0 and not _joined(view[start - 1], view[start]) and (not lines[:start].all() or stop < n)
        after = stop < n and not _joined(view[stop], view[stop - 1]) and (not lines[stop:].all() or start > 0)
        cut = np.zeros(n, dtype=bool)
        cut[:start] = before
        cut[stop:] = after
        outside |= cut[:, None] if axis == 0 else cut[None, :]
    frame &= ~outside
    ring = np.zeros((h, w), dtype=bool)
    if frame.any():
        from scipy import ndimage

        labels, _ = ndimage.label(frame, structure=np.ones((3, 3), dtype=bool))
        band = max(3, round(FRAME_BAND * min(h, w)))
        for i, (ys, xs) in enumerate(ndimage.find_objects(labels)):
            bh, bw = ys.stop - ys.start, xs.stop - xs.start
            if bh < FRAME_MIN_SIZE * h or bw < FRAME_MIN_SIZE * w or min(bh, bw) <= 2 * band:
                continue
            piece = labels[ys, xs] == i + 1
            sides = (piece[:band].any(axis=0), piece[-band:].any(axis=0), piece[:, :band].any(axis=1),
                     piece[:, -band:].any(axis=1))
            if min(float(side.mean()) for side in sides) < FRAME_SIDE:
                continue
            if not (frame[ys, xs] & ~piece)[band:-band, band:-band].any():
                continue  # nothing inside: the box is the drawing (a square 0)
            along = np.ones((bh, bw), dtype=bool)
            along[band:-band, band:-band] = False
            ring[ys, xs] |= piece & along
    if not (outside.any() or ring.any()):
        return grey
    out = grey.astype(np.float32)
    out[outside | ring] = np.float32(level * full / 255.0)
    return out


def _dark_on_light(grey: np.ndarray, full: float) -> tuple[bool, float, float]:
    """(ink is dark?, background level, ink contrast), all on the [0, full] scale."""
    flat = grey.ravel()
    bg = float(np.median(_border(grey)))
    deep_lo, lo, hi, deep_hi = (float(v) for v in np.quantile(flat, (0.0001, 0.001, 0.999, 0.9999)))
    darker, lighter = bg - lo, hi - bg
    # A fine pen in a big photo inks under 0.1% of the pixels: the 0.1% quantile then lands on
    # the strokes' soft edges or the paper, so the contrast is taken 10x deeper.
    if darker < 0.5 * (bg - deep_lo):
        darker = bg - deep_lo
    if lighter < 0.5 * (deep_hi - bg):
        lighter = deep_hi - bg
    if darker == lighter:  # uniform or symmetric: fall back to "paper is light"
        return bg >= full / 2, bg, max(darker, 0.0)
    return darker > lighter, bg, max(darker, lighter)


# ----------------------------------------------------------------------------------------- ink


def _faint_but_clear(grey: np.ndarray, full: float, contrast: float) -> bool:
    """Faint pencil on a low-contrast photo: ink under MIN_CONTRAST that still stands FAINT_SNR x
    the paper's noise (robust sigma of the border) above it, and >= FAINT_CONTRAST of full scale.
    A blank photo's darkest grain lies 3-4 sigma from the paper."""
    if contrast < FAINT_CONTRAST * full:
        return False
    border = _border(grey).astype(np.float32)
    sigma = 1.4826 * float(np.median(np.abs(border - np.median(border))))
    return contrast >= FAINT_SNR * max(sigma, 0.5 / 255 * full)


def _relative_ink(grey: np.ndarray, dark: bool, bg: float, contrast: float) -> np.ndarray:
    """How far each pixel departs from the background towards the ink, in units of the contrast."""
    g = grey.astype(np.float32, copy=False)
    ink = (np.float32(bg) - g) if dark else (g - np.float32(bg))
    ink *= np.float32(1.0 / max(contrast, 1e-12))
    return ink


def _sensor_noise(ink: np.ndarray) -> float:
    """The noise's standard deviation on the border, from differences of pixels 2 px apart (JPEG
    and demosaicing blur neighbours; robust: printed lines, a ring or specks there raise the
    quantile ink_map's threshold uses, not this)."""
    steps = _border(np.abs(ink[:, 2:] - ink[:, :-2]))
    return 1.4826 * float(np.median(steps)) / np.sqrt(2.0)


def ink_map(grey: np.ndarray, full: float, *, name: str | Path = "image") -> np.ndarray:
    """Ink strength in [0, 1] (float32, same shape): 0 background, 1 the strongest ink.

    Polarity comes from the image itself (border median vs. the extremes). Values fainter than
    NOISE_FRACTION of the ink contrast become 0; the rest are divided by the contrast. A dim
    photo whose sensor noise is as strong as the ink is smoothed first (DENOISE_SIGMAS).
    Raises ImageError "no digit found" when there is no ink to speak of.
    """
    return _ink_and_sheet(grey, full, name)[0]


def _ink_and_sheet(grey: np.ndarray, full: float, name: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """ink_map's ink, and what lies beyond the sheet's edges (True there; None when no edge shows)."""
    grey, beyond = _cut_sheet(remove_canvas_frame(grey, full), full)
    grey = _without_glare(grey, full, float(np.median(_border(grey))))
    grey = flatten_lighting(grey, full, sheet=beyond is not None)
    dark, bg, contrast = _dark_on_light(grey, full)
    if contrast < MIN_CONTRAST * full and not _faint_but_clear(grey, full, contrast):
        raise _err(name, "no digit found (the image is blank: no ink differs from the background)")
    ink = _relative_ink(grey, dark, bg, contrast)
    # The paper's own texture (dithering, JPEG noise, grain) is measured on the border: anything
    # not clearly stronger than it is background too (capped, in case the digit touches the edge).
    paper_noise = float(np.quantile(_border(ink), 0.98))
    if (1.25 * paper_noise > MAX_NOISE_FRACTION and DENOISE_SIGMAS * _sensor_noise(ink) > MAX_NOISE_FRACTION
            and min(grey.shape) >= LIGHTING_MIN_SIDE):
        # a dim photo: its sensor noise as strong as the ink passes any threshold in speckles
        # that join into "strokes"; averaged over a small disc first, the strokes stand out and
        # the paper becomes paper (pure noise stays as strong: it is left to the unsure rule)
        from scipy import ndimage  # lazily: only such photos pay its import

        smooth = ndimage.gaussian_filter(grey.astype(np.float32), max(1.0, DENOISE_SIZE * min(grey.shape)))
        smooth_ink = _relative_ink(smooth, *_dark_on_light(smooth, full))
        smooth_noise = float(np.quantile(_border(smooth_ink), 0.98))
        if 1.25 * smooth_noise <= MAX_NOISE_FRACTION:  # else noise all over, no paper: left as it is
            ink, paper_noise = smooth_ink, smooth_noise
    ink[ink < min(max(NOISE_FRACTION, 1.25 * paper_noise), MAX_NOISE_FRACTION)] = 0.0
    np.minimum(ink, 1.0, out=ink)
    return ink, beyond


def _without_glare(grey: np.ndarray, full: float, level: float) -> np.ndarray:
    """``grey`` with a flash's glare taken out, or ``grey`` itself when it shows none.

    A flash on glossy paper lays a hotspot over part of the sheet: there the camera sees paper and
    ink pushed most of the way to white, keeping 10-40% of their contrast, and that part of each
    stroke falls under the noise threshold. Glare adds light, so dividing by the paper's level
    (flatten_lighting) does not bring it back; but each pixel's *darkness* (its distance from
    white) is scaled by the same factor as the paper's round it: ``white - I = (1 - g)(white - I0)``
    for a glare of strength g. So darkness is divided by the darkness of the paper's local level
    (a grey closing, as _cast_shadow_paper follows a shadow) and multiplied by that of the paper's
    median ``level``. This is done only when the local level somewhere rises above ``level`` by
    GLARE_RISE of the way to white, and it changes only the pixels where the paper is brighter than
    ``level``. Light that falls more strongly on a spot (a flash on matte paper, or light falling
    off across the sheet) brightens the paper as much but multiplies the ink too: it stays dark,
    and restored it would overshoot black, or it comes out darker the higher the gain where glare
    would have faded it in step. Such an image is left alone, and so is one whose ink all lies
    under one mild gain (no telling), and light ink on a dark ground (its ground would overshoot).
    It runs before flatten_lighting: a hotspot reaching the frame's border would be divided away
    there as light, and one outshining a faded digit would win the polarity test. Paper brighter
    over a plateau with a sharp edge (GLARE_PLATEAU) is the lit part of a sheet under a cast shadow.
    """
    h, w = grey.shape
    rise = max(GLARE_RISE * (full - level), GLARE_MIN_RISE * full)
    step = max(1, min(h, w) // GLARE_COARSE)
    if min(h, w) < LIGHTING_MIN_SIDE or float(grey[::step, ::step].max()) < level + rise:
        return grey  # nothing bright enough: the usual case, decided on a sample
    coarse = grey[: h // step * step, : w // step * step].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
    local = _local_paper_level(coarse.astype(np.float32))
    peak = float(local.max()) - level
    if peak < rise:
        return grey
    top, foot = (np.count_nonzero(local >= level + share * peak) for share in (GLARE_TOP, GLARE_FOOT))
    if top >= GLARE_PLATEAU * foot:
        return grey  # a plateau of light, not a hotspot: the lit side of a cast shadow
    local = np.asarray(Image.fromarray(local, "F").resize((w, h), Image.Resampling.BILINEAR))
    white_gap = np.maximum(full - local, (full - level) / GLARE_MAX_GAIN)
    gain = np.maximum((full - level) / white_gap, 1.0).astype(np.float32)
    darkness = full - grey
    tested = np.minimum(gain, GLARE_TEST_GAIN)
    restored = darkness * tested
    if float(restored.max()) > GLARE_INK_LIMIT * full:
        return grey  # brighter paper, ink as dark as ever: more light falling there, not glare
    ink = (local - grey) * tested >= GLARE_INK_SEEN * full  # darker than the paper round it
    ink_gain = tested[ink]
    if ink_gain.size == 0 or float(ink_gain.max()) < GLARE_LIT_GAIN:
        return grey  # no ink where the paper is brighter: nothing to restore
    log_gain = np.log(ink_gain)
    if log_gain.size >= GLARE_MIN_INK and float(log_gain.std()) >= GLARE_GAIN_SPREAD:
        # the ink spans the bright part's edge: restored, is it darker where the gain is higher?
        slope = float(np.polyfit(log_gain, np.log(restored[ink]), 1)[0])
        if slope > GLARE_SLOPE:
            return grey  # yes: the light multiplied it, and glare would have faded it
    elif float(np.median(ink_gain)) < GLARE_SURE_GAIN:
        return grey  # all the ink under one mild gain: glare cannot be told from more light
    return np.clip(full - darkness * gain, 0.0, full).astype(np.float32)


# a family of printed lines (_best_tilt): the number of the family's line through each pixel (y, x)
RowsOf = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every True pixel, where the horizontal run of True pixels it lies in starts and how
    long it is: ``(start column, length)``, both 0 off the mask."""
    h, w = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    starts, ends = np.nonzero(edges == 1), np.nonzero(edges == -1)  # row-major: runs pair up
    lengths = ends[1] - starts[1]
    start = np.zeros((h, w), dtype=np.int32)
    length = np.zeros((h, w), dtype=np.int32)
    if lengths.size:
        rows = np.repeat(starts[0], lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        cols = np.repeat(starts[1], lengths) + offsets
        start[rows, cols] = np.repeat(starts[1], lengths)
        length[rows, cols] = np.repeat(lengths, lengths)
    return start, length


def _projection(rows: np.ndarray, n_rows: int) -> tuple[float, np.ndarray]:
    """How peaky a family of lines makes the ink (the sum of squares of its pixels per line: a
    family that fits piles them into few lines), and the pixels per line (``rows``: each pixel's)."""
    sums = np.bincount(rows, minlength=n_rows)
    return float(np.dot(sums, sums.astype(np.float64))), sums


def _best_tilt(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> tuple[RowsOf, np.ndarray]:
    """The family of lines along which the ink pixels (ys, xs) of an h x w image line up best:
    ``(rows_of, sums)``, where ``rows_of(y, x)`` numbers the family's line through each pixel and
    ``sums`` counts the pixels per line.

    Parallel lines first: each tilt (LINE_TILTS) shears the pixels so lines at that tilt become
    rows (pixel (y, x) goes to row y + shift[x]) and sums them per row -- a projection, as in a
    Hough transform restricted to one family of parallel lines; the tilt with the peakiest sums
    (largest sum of squares) wins. When that is the last of LINE_TILTS on its side, the search
    goes on that way to LINE_MAX_TILT. Then lines that converge (`_best_fan`: a photo taken at an
    angle), taken only when they line the ink up FAN_GAIN x as well."""

    def best_of(tilts, best):
        for tilt in tilts:
            shift = np.round(np.arange(w) * np.tan(np.deg2rad(tilt))).astype(np.int64)
            shift -= shift.min()
            score, sums = _projection(ys + shift[xs], h + int(shift.max()) + 1)
            if best is None or score > best[0]:
                best = (score, shift, sums, tilt)
        return best

    best = best_of(LINE_TILTS, None)
    if abs(best[3]) == LINE_TILTS[-1]:
        step = LINE_TILTS[1] - LINE_TILTS[0]
        further = best_of(np.sign(best[3]) * np.arange(LINE_TILTS[-1] + step, LINE_MAX_TILT + step / 2, step), None)
        if further[0] >= LINE_WIDE_GAIN * best[0]:
            best = further
    shift = best[1]
    fan = _best_fan(ys, xs, h, w, best[3], FAN_GAIN * best[0])
    return (lambda y, x: y + shift[x], best[2]) if fan is None else fan


def _best_fan(ys: np.ndarray, xs: np.ndarray, h: int, w: int, tilt: float,
              to_beat: float) -> tuple[RowsOf, np.ndarray] | None:
    """Lines converging on a point off to one side, as a sheet's printed lines do in a photo taken
    at an angle (perspective: a keystone), if some such family lines the pixels up with a score
    (`_best_tilt`'s) over ``to_beat``: ``(rows_of, sums)``, else None.

    The family is the lines whose slope changes steadily from the top of the frame to its bottom:
    the line crossing the centre column at row c has slope m(c) = m0 + k (c - h/2), where m0 is the
    slope of ``tilt`` (LINE_TILTS' sign: -tan(tilt)), so pixel (y, x), dx = x - w/2, lies on line
    c = (y - (m0 - k h/2) dx) / (1 + k dx) -- a projective shear; k = 0 is the parallel family.
    k is tan(spread) / h for each spread of FAN_SPREADS (the tilt's change from the frame's top
    to its bottom), coarse first, then a finer look round the best with the centre tilt moved too."""
    half = (w - 1) / 2.0
    corners_y, corners_x = np.array([0.0, 0.0, h - 1.0, h - 1.0]), np.array([0.0, w - 1.0, 0.0, w - 1.0])

    def family(centre_tilt: float, spread: float):
        slope, k = -np.tan(np.deg2rad(centre_tilt)), np.tan(np.deg2rad(spread)) / h
        if abs(k) * half >= 0.5:
            return None

        def line_through(y: np.ndarray, x: np.ndarray) -> np.ndarray:
            dx = x - half
            return (y - (slope - k * h / 2) * dx) / (1 + k * dx)

        ends = line_through(corners_y, corners_x)
        low = np.floor(ends.min())
        return lambda y, x: np.round(line_through(y, x) - low).astype(np.int64), int(np.ceil(ends.max() - low)) + 1

    best = None
    tried = [(tilt, spread) for spread in FAN_SPREADS]
    for _ in range(2):  # coarse, then round the best
        for centre, spread in tried:
            made = family(centre, spread)
            if made is None:
                continue
            rows_of, n_rows = made
            score, sums = _projection(rows_of(ys, xs), n_rows)
            if best is None or score > best[0]:
                best = (score, rows_of, sums, centre, spread)
        if best is None:
            return None
        step = FAN_SPREADS[1] - FAN_SPREADS[0]
        tried = [(best[3] + dc, best[4] + ds) for dc in (-0.5, 0.0, 0.5) for ds in (-step / 2, 0.0, step / 2)
                 if (dc, ds) != (0.0, 0.0)]
    return (best[1], best[2]) if best[0] > to_beat else None


def _across(rows: np.ndarray, xs: np.ndarray, n_rows: int, w: int, beyond: np.ndarray | None = None,
            rows_of: RowsOf | None = None) -> np.ndarray:
    """Per sheared row: does the ink of pixels (sheared row ``rows``, column ``xs``) reach from
    end to end of LINE_MIN_EXTENT of the width, or touch the image's left or right edge? (A
    printed line crosses the sheet, a stroke only the digit; light falling unevenly leaves only
    part of a line above the noise.) With the sheet's edge in the frame (``beyond``: True past
    it, unsheared; pixel (y, x) is on line ``rows_of(y, x)``), the width is the sheet's along
    the row: what lies beyond its edge is no part of the line's way across."""
    first = np.full(n_rows, w, dtype=np.int64)
    last = np.full(n_rows, -1, dtype=np.int64)
    np.minimum.at(first, rows, xs)
    np.maximum.at(last, rows, xs)
    near_first = np.minimum(np.minimum(first, np.roll(first, 1)), np.roll(first, -1))
    near_last = np.maximum(np.maximum(last, np.roll(last, 1)), np.roll(last, -1))
    width = np.full(n_rows, w, dtype=np.int64)
    if beyond is not None:
        past_y, past_x = np.nonzero(beyond)
        width -= np.bincount(rows_of(past_y, past_x), minlength=n_rows)[:n_rows]
    edge = round(0.02 * w)
    return ((near_last - near_first) >= LINE_MIN_EXTENT * width) | (near_first <= edge) | (near_last >= w - 1 - edge)


def _grid_rows(rows: np.ndarray, sums: np.ndarray, wide_limit: int) -> np.ndarray | None:
    """The sheared rows of a printed grid's or ruling's lines among the candidate ``rows``, or
    None: candidate bands (runs of rows) whose centres sit on one evenly spaced lattice -- at
    least GRID_MIN_LINES of them, filling >= 70% of the lattice's places between the first and
    the last (a line the noise hid leaves a place empty), each within GRID_PITCH_TOLERANCE of
    the pitch (>= 2 px) of its place. A digit's strokes make bands too, off the lattice: they
    stay. Every place of the lattice with such a band's ink nearby is a line as wide as the
    lattice's median band."""
    edges = np.diff(np.concatenate(([0], rows.astype(np.int8), [0])))
    bands = [(a, b) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1) if b - a < wide_limit]
    if len(bands) < GRID_MIN_LINES:
        return None
    centres = np.array([(a + b) / 2 for a, b in bands])
    best, best_on, best_pitch, best_origin = 0, None, 0.0, 0.0
    for i in range(len(centres)):
        for j in range(i + 1, min(len(centres), i + 4)):  # the pitch: to one of the next bands
            pitch = float(centres[j] - centres[i])
            if pitch < 2:
                continue
            place = (centres - centres[i]) / pitch
            on = np.abs(place - np.round(place)) * pitch <= max(2.0, GRID_PITCH_TOLERANCE * pitch)
            taken = np.unique(np.round(place[on]))
            if taken.size > best and taken.size >= GRID_MIN_LINES and taken.size >= 0.7 * (taken.max() - taken.min() + 1):
                best, best_on, best_pitch, best_origin = taken.size, on, pitch, float(centres[i])
    if best_on is None:
        return None
    # the lattice fitted to all the bands on it (one pair's distance drifts over ten lines)
    place = np.round((centres[best_on] - best_origin) / best_pitch)
    best_pitch, best_origin = (float(v) for v in np.polyfit(place, centres[best_on], 1))
    half = int(np.ceil(np.median([b - a for (a, b), on in zip(bands, best_on) if on]) / 2))
    out = np.zeros(sums.size, dtype=bool)
    for (a, b), on in zip(bands, best_on):
        if on:
            out[a : b + 1] = True
    for place in np.arange(-np.floor(best_origin / best_pitch), (sums.size - best_origin) / best_pitch + 1):
        at = int(round(best_origin + place * best_pitch))
        lo, hi = max(at - half, 0), min(at + half + 1, sums.size)
        if lo < hi and rows[lo:hi].any():
            out[lo:hi] = True
    return out


def _band_pixels(first: np.ndarray, last: np.ndarray, rows: np.ndarray, band: np.ndarray, thin: np.ndarray,
                 w: int) -> tuple[np.ndarray, np.ndarray]:
    """Which ink pixels (sheared row ``rows``; their ink run across the line from sheared row
    ``first`` to ``last``) lie on the line rows ``band``: thin ink there, and thicker ink whose
    run stays inside the band, give or take 1 row and the drift of a line between two tilts
    (LINE_TILTS' half step along the width ``w``) -- a stroke crossing the line sticks out of
    it and stays. Also each pixel's line (1, 2, ... counted along the band)."""
    drift = int(np.ceil(w * np.tan(np.deg2rad((LINE_TILTS[1] - LINE_TILTS[0]) / 2))))
    grown = np.convolve(band, np.ones(3 + 2 * drift), mode="same") > 0
    count = np.concatenate(([0], np.cumsum(grown)))
    top, bottom = np.clip(first, 0, grown.size - 1), np.clip(last, 0, grown.size - 1)
    inside = grown[rows] & (count[bottom + 1] - count[top] == last - first + 1)
    return thin & band[rows] | inside, np.cumsum(np.diff(np.concatenate(([0], grown.astype(np.int8)))) == 1)[rows]


def _line_pixels(m: np.ndarray, top: np.ndarray, run: np.ndarray, thin_limit: int, wide_limit: int,
                 beyond: np.ndarray | None = None) -> np.ndarray:
    """Pixels of ``m`` on near-horizontal printed lines (``top``, ``run``: each pixel's ink run
    across the line, i.e. along its column), numbered by line (0: no line).

    First thin lines (runs <= ``thin_limit``): rows (at the best tilt) whose thin ink covers
    LINE_MIN_SPAN of the width and crosses it (`_across`), and the rows next to them; a line
    thicker in places than the limit goes too, where its ink across stays inside those rows
    and the rows beside them that are as full. Then lines as wide as a fine pen (runs <=
    ``wide_limit``), which no width tells from the pen's strokes: rows covering GRID_MIN_SPAN
    of the width that cross it, kept only when they are a grid's or a ruling's evenly spaced
    lines (`_grid_rows`) -- a digit's strokes never are. On those lines, as on the thin ones,
    thin ink goes and thicker ink only where its run stays inside the line's rows: a stroke
    crossing the line sticks out of it and stays."""
    h, w = m.shape
    if int(np.count_nonzero(m & (run <= wide_limit))) < min(LINE_MIN_SPAN, GRID_MIN_LINES * GRID_MIN_SPAN) * w:
        return np.zeros(m.shape, dtype=np.int32)  # too little thin ink for either kind of line (a drawing)
    ys, xs = np.nonzero(m)
    runs = run[ys, xs]
    found = np.zeros(ys.size, dtype=bool)
    line_of = np.zeros(ys.size, dtype=np.int64)
    thin = runs <= thin_limit
    if int(thin.sum()) >= LINE_MIN_SPAN * w:  # else too little thin ink for one line
        rows_of, sums = _best_tilt(ys[thin], xs[thin], h, w)
        rows = rows_of(ys, xs)
        across = _across(rows[thin], xs[thin], sums.size, w, beyond, rows_of)
        is_line = (np.convolve(sums >= LINE_MIN_SPAN * w, np.ones(3), mode="same") > 0) & across
        if is_line.mean() <= LINE_MAX_ROW_SHARE and is_line.any():
            # (most rows qualifying: the ink is a texture (noise, grain), not paper lines;
            # removing its thin parts would leave its clumps, which read as a confident "8")
            # the lines' thick parts: the rows beside them that are as full
            full = ((np.bincount(rows, minlength=sums.size) >= LINE_MIN_SPAN * w)
                    & _across(rows, xs, sums.size, w, beyond, rows_of))
            for _ in range(wide_limit):
                is_line |= (np.roll(is_line, 1) | np.roll(is_line, -1)) & full
            first = rows_of(top[ys, xs], xs)
            found, which = _band_pixels(first, rows_of(top[ys, xs] + runs - 1, xs), rows, is_line, thin, w)
            line_of[found] = which[found]
    wide = runs <= wide_limit  # (with the thin lines found: they are the grid's lines too)
    if int(wide.sum()) >= GRID_MIN_LINES * GRID_MIN_SPAN * w:
        rows_of, sums = _best_tilt(ys[wide], xs[wide], h, w)
        rows = rows_of(ys, xs)
        candidate = (sums >= GRID_MIN_SPAN * w) & (sums >= GRID_PEAK * float(np.median(sums)))
        if candidate.any():
            candidate &= _across(rows[wide], xs[wide], sums.size, w, beyond, rows_of)
        band = _grid_rows(candidate, sums, wide_limit) if 0 < candidate.mean() <= LINE_MAX_ROW_SHARE else None
        if band is not None:
            first = rows_of(top[ys, xs], xs)
            # on the lattice's bands, thin ink and ink whose run stays inside the band are the
            # line's; a stroke crossing it steeply runs wider than the band and stays (taking
            # every run up to the pen's width bit a gap out of each stroke that crossed a line)
            more, which = _band_pixels(first, rows_of(top[ys, xs] + runs - 1, xs), rows, band, thin, w)
            more &= ~found
            line_of[more] = which[more] + int(line_of.max())
            found |= more
    out = np.zeros(m.shape, dtype=np.int32)
    out[ys[found], xs[found]] = line_of[found]
    return out


def _darker_than_beside(along: np.ndarray, view: np.ndarray, which: np.ndarray, thin_limit: int) -> np.ndarray:
    """The stretches of ``along`` (long runs of ink "darker" than its line, on the near-horizontal
    lines ``which`` numbers; ``view`` the ink) that are a pen's stroke written along the line: just
    inside their ends the line holds PEN_BESIDE_RATIO x the ink it holds just outside them
    (PEN_BESIDE_REACH x the thin limit each way), where a pen begins and ends.

    The ink is summed across the line, column by column. A line tilted a little crosses from one
    row to the next: its ink lies in one row where it is centred on a row and is split between two
    where it crosses, so one row's stretches "darker" than the line come and go all along it while
    the sum across does not. Stretches of one line less than the reach apart are one stretch (a
    staircase of them, a pen that skips); one across LINE_MIN_EXTENT of the image's width is the
    line itself, printed as dark as the pen. Outside, only the line's columns that are not "darker"
    themselves count, the nearest up to the reach each way (looked for up to PEN_BESIDE_SEARCH x
    as far). Light falling off across a photo darkens a line gradually: no more just inside a dim
    stretch's end than just outside it. A stretch with no line beside it (the pen covers what the
    noise left of it) stays."""
    if not along.any():
        return along
    keep = np.zeros_like(along)
    reach = PEN_BESIDE_REACH * thin_limit
    ys, xs = np.nonzero(which)
    ids = which[ys, xs]
    for line in np.unique(which[along]):
        on = ids == line
        line_xs = xs[on]
        cols = np.unique(line_xs)  # the line's columns, in order
        sums = np.bincount(line_xs, weights=view[ys[on], line_xs], minlength=along.shape[1])[cols]
        hit = np.isin(cols, line_xs[along[ys[on], line_xs]])  # the columns the stretches cover
        at = np.flatnonzero(hit)
        breaks = np.flatnonzero(np.diff(cols[at]) > reach)
        for first, last in zip(np.concatenate(([0], breaks + 1)), np.concatenate((breaks, [at.size - 1]))):
            a, b = int(at[first]), int(at[last]) + 1  # the stretch's first and last column + 1, among the line's
            if cols[b - 1] - cols[a] >= LINE_MIN_EXTENT * along.shape[1]:
                continue  # all along the line: the line itself
            inner = min(reach, max(1, (b - a) // 2))
            ends = ([sums[a : a + inner]] if a > 0 else []) + ([sums[b - inner : b]] if b < cols.size else [])
            before = np.arange(max(0, a - PEN_BESIDE_SEARCH * reach), a)
            after = np.arange(b, min(cols.size, b + PEN_BESIDE_SEARCH * reach))
            outside = sums[np.concatenate((before[~hit[before]][-reach:], after[~hit[after]][:reach]))]
            if not ends or outside.size < inner // 2:
                pen = True  # no line beside it
            else:  # (1-3 columns with no line outside them nearby: a speck of the line, not a pen)
                pen = outside.size > 0 and float(np.median(np.concatenate(ends))) >= PEN_BESIDE_RATIO * float(np.median(outside))
            if pen:
                stretch = slice(cols[a], cols[b - 1] + 1)
                keep[:, stretch] |= which[:, stretch] == line
    return along & keep


def remove_paper_lines(ink: np.ndarray, beyond_sheet: np.ndarray | None = None) -> np.ndarray:
    """Drop the printed lines of ruled and squared paper from the ink; keep the digit.

    A printed line crosses the whole sheet, straight; a digit's stroke is short, or (a bar) as
    thick as the pen. A pixel is a line's when it lies on a straight line of ink across the
    image, tilted up to 4 degrees (up to 8 when the lines line up best at 4: a turned photo;
    converging, when a photo taken at an angle makes them: see _best_tilt; faint lines that
    break into dashes still add up), and the ink there is thin across the
    line (LINE_MAX_WIDTH) or no thicker across than the line itself -- where a stroke crosses
    a line it sticks out and stays -- and no darker than LINE_INK_RATIO
    x the lines' median ink: a fine pen's stroke lying along a faint printed line stays too.
    Lines as wide as a fine pen (up to GRID_MAX_WIDTH) count only when they are a grid or a
    ruling: evenly spaced (see _line_pixels). Both directions: rows (ruled paper), then
    columns (squares) of what is left, so a grid's crossings go with its columns. A line crosses
    the sheet: with the sheet's edge in the frame (``beyond_sheet``, True past it), the width it
    must span is the sheet's along it (see _across).
    """
    mask = ink > 0
    h, w = mask.shape
    if min(h, w) < 64:
        return ink
    thin_limit = max(3, round(LINE_MAX_WIDTH * min(h, w)))
    wide_limit = max(thin_limit, round(GRID_MAX_WIDTH * min(h, w)))
    line = np.zeros_like(mask)
    lines_found = 0
    for flip in (False, True):  # the columns after the rows are gone: a grid's crossings go too
        m = np.ascontiguousarray((mask & ~line).T) if flip else mask
        top, run = (a.T for a in _runs(np.ascontiguousarray(m.T)))  # each pixel's ink run across the line
        beyond = None if beyond_sheet is None else (beyond_sheet.T if flip else beyond_sheet)
        which = _line_pixels(m, top, run, thin_limit, wide_limit, beyond)
        found = which > 0
        if found.any():  # a pen's stroke on a faint printed line is far darker than the line
            view = ink.T if flip else ink
            level = float(np.median(view[found]))
            # ... or darker than its own line (light and grain vary) all along a stretch of it (a
            # stroke written along the line; the line's grain makes only short runs that dark)
            ids, values = which[found], view[found]
            order = np.argsort(ids, kind="stable")
            names, starts = np.unique(ids[order], return_index=True)
            # (its 10% quantile: the pen may cover most of a line the grain left in pieces)
            medians = np.array([np.quantile(part, 0.1) for part in np.split(values[order], starts[1:])])
            local = np.zeros(int(names.max()) + 1, dtype=np.float32)
            local[names] = medians
            darker = found & (view >= np.maximum(PEN_ON_LINE_RATIO * local[which], PEN_ON_LINE_MIN))
            along = _runs(darker)[1] >= PEN_ON_LINE_RUN * thin_limit
            # (the line's quantile comes from its brightest stretch: where light falls off by
            # less than flatten_lighting evens out, a line's dim end is as "darker" as a pen)
            along = _darker_than_beside(along, view, which, thin_limit)
            found &= (view <= LINE_INK_RATIO * level) & ~along
            lines_found += np.unique(which[found]).size
        line |= found.T if flip else found
    if not line.any():
        return ink
    if lines_found == 1 and np.count_nonzero(mask & ~line) < LONE_LINE_MIN_REST * np.count_nonzero(line):
        return ink  # one straight stroke and next to nothing beside it: the digit, not the paper
    return np.where(line, np.float32(0), ink)


def _straight_line(ink: np.ndarray, ys: np.ndarray, xs: np.ndarray, limit: int) -> np.ndarray | None:
    """The pixels (indices into ``ys``, ``xs``: the thin ink) of the straightest line of thin
    ink across the image, if it is a crease's (see remove_straight_lines), else None."""
    h, w = ink.shape
    angles = np.deg2rad(np.asarray(STRAIGHT_ANGLES))
    reach = int(np.ceil(np.hypot(h, w)))
    best = (0, 0.0, 0)
    for theta in angles:  # Hough: rho = x cos + y sin, 1-px bins, counted over a window of 3
        rho = np.round(xs * np.cos(theta) + ys * np.sin(theta)).astype(np.int64) + reach
        sums = np.bincount(rho, minlength=2 * reach + 3)
        sums = sums[:-2] + sums[1:-1] + sums[2:]
        at = int(np.argmax(sums))
        if sums[at] > best[0]:
            best = (int(sums[at]), float(theta), at + 1 - reach)
    _, theta, rho = best
    # refined by a least-squares fit to the thin ink near it (half a degree drifts 4 px in 1,000)
    for _ in range(2):
        d = xs * np.cos(theta) + ys * np.sin(theta) - rho
        near = np.abs(d) <= limit
        if near.sum() < 2:
            return None
        px, py = xs[near].astype(np.float64), ys[near].astype(np.float64)
        cx, cy = px.mean(), py.mean()
        _, _, vt = np.linalg.svd(np.stack([px - cx, py - cy], axis=1), full_matrices=False)
        theta = float(np.arctan2(vt[1, 1], vt[1, 0]))  # the normal: least variance
        rho = cx * np.cos(theta) + cy * np.sin(theta)
    d = xs * np.cos(theta) + ys * np.sin(theta) - rho
    half = max(1.0, float(np.quantile(np.abs(d[np.abs(d) <= limit]), 0.9)))
    on = np.abs(d) <= half + 1
    # its chord across the image: positions t along the line inside the frame
    ux, uy = -np.sin(theta), np.cos(theta)
    t = xs * ux + ys * uy
    ts = []
    for (ax, ay), (bx, by) in (((0, 0), (w - 1, 0)), ((0, h - 1), (w - 1, h - 1)), ((0, 0), (0, h - 1)),
                               ((w - 1, 0), (w - 1, h - 1))):
        # where the line meets each side of the frame
        denom = (bx - ax) * np.cos(theta) + (by - ay) * np.sin(theta)
        if abs(denom) < 1e-9:
            continue
        s = (rho - ax * np.cos(theta) - ay * np.sin(theta)) / denom
        if -1e-6 <= s <= 1 + 1e-6:
            ts.append((ax + s * (bx - ax)) * ux + (ay + s * (by - ay)) * uy)
    if len(ts) < 2:
        return None
    lo, hi = min(ts), max(ts)
    chord = hi - lo
    if chord < 0.5 * min(h, w) or not on.any():
        return None
    cover = np.unique(np.clip(np.round(t[on] - lo), 0, chord).astype(np.int64)).size / (chord + 1)
    if cover < STRAIGHT_MIN_COVER or np.ptp(t[on]) < LINE_MIN_EXTENT * chord:
        return None
    # the rest of the ink (its heavy part: specks anywhere would stretch the box) must leave the
    # line running on past it at both ends: a digit's straight stroke ends at the digit
    rest = ink.copy()
    rest[ys[on], xs[on]] = 0
    if float(rest.sum()) < STRAIGHT_MIN_REST * float(ink[ys[on], xs[on]].sum()):
        return None  # the line is most of the ink: the digit itself (a 1), not a crease across it
    box = _heavy_box(rest)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    rest_t = np.array([x * ux + y * uy for y in (y0, y1) for x in (x0, x1)])
    margin = STRAIGHT_BEYOND * chord
    if t[on].min() > rest_t.min() - margin or t[on].max() < rest_t.max() + margin:
        return None
    return np.flatnonzero(on)


def _ink_pieces(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink's 8-connected pieces (labels 1..n, 0 off the ink) and the ink mass of each (n,)."""
    from scipy import ndimage  # lazily: only images that need it pay its import

    labels, n = ndimage.label(ink > 0, structure=np.ones((3, 3), dtype=bool))
    return labels, np.asarray(ndimage.sum_labels(ink, labels, np.arange(1, n + 1)), dtype=np.float64)


def _heavy_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box (y0, y1, x0, x1) of the ink's pieces weighing >= 10% of its heaviest, or None."""
    labels, mass = _ink_pieces(ink)
    if mass.size == 0:
        return None
    heavy = np.concatenate(([False], mass >= 0.1 * mass.max()))[labels]
    return _bbox(heavy)


def remove_straight_lines(ink: np.ndarray) -> np.ndarray:
    """Drop a crease, a fold or a ruler's line crossing the frame -- and the digit -- at any tilt.

    remove_paper_lines finds printed lines tilted up to 4 degrees; a fold or a line drawn
    across the sheet can lie at any angle, and where it crosses the digit digit_strokes cannot
    tell it from the digit: the network got the digit struck through (a 6 read "4", a 0 "2").
    Such a line is thin ink (runs across it short both ways) lying on one straight line from
    end to end of the image (a Hough transform over every tilt, then a least-squares fit), and
    it runs on past the rest of the ink at both ends. Its thin ink goes; where a stroke crosses
    it the ink is thick and stays, and so does ink LINE_INK_RATIO x darker than the line's
    median (a pen's stroke along it)."""
    mask = ink > 0
    h, w = mask.shape
    if min(h, w) < 64:
        return ink
    edge = max(2, round(0.02 * min(h, w)))
    if not (mask[:edge].any() or mask[-edge:].any() or mask[:, :edge].any() or mask[:, -edge:].any()):
        return ink  # a line across the frame reaches its edge; a drawing's digit seldom does
    limit = max(3, round(LINE_MAX_WIDTH * min(h, w)))
    across = _runs(np.ascontiguousarray(mask.T))[1].T
    along = _runs(mask)[1]
    thin = mask & (np.minimum(across, along) <= STRAIGHT_MAX_RUN * limit)
    out = ink
    for _ in range(STRAIGHT_MAX_LINES):
        ys, xs = np.nonzero(thin)
        if ys.size < 0.5 * min(h, w):
            break
        found = _straight_line(out, ys, xs, limit)
        if found is None:
            break
        ly, lx = ys[found], xs[found]
        level = float(np.median(out[ly, lx]))
        gone = out[ly, lx] <= LINE_INK_RATIO * level
        out = out.copy()
        out[ly[gone], lx[gone]] = 0
        thin[ly, lx] = False
    return out


def _surrounds(piece: np.ndarray, y: float, x: float) -> float:
    """The share of the 36 directions (10-degree steps) from (y, x) in which ``piece`` has ink."""
    ys, xs = np.nonzero(piece)
    bins = (np.degrees(np.arctan2(ys - y, xs - x)) // 10).astype(np.int64) % 36
    return np.unique(bins).size / 36


def _straight(piece: np.ndarray) -> bool:
    """Whether ``piece`` is a straight stroke: its pixels spread across its principal axis no more
    than UNDERLINE_STRAIGHT x its mean thickness (its area over its length, the length of a bar
    with its spread along the axis: sqrt(12) standard deviations)."""
    ys, xs = np.nonzero(piece)
    if ys.size < 3:
        return False
    across, along = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    thickness = ys.size / max(np.sqrt(12.0 * along), 1.0)
    return float(np.sqrt(max(across, 0.0))) <= UNDERLINE_STRAIGHT * thickness


def remove_marks(ink: np.ndarray) -> np.ndarray:
    """Drop a ring, a form's box or an underline drawn apart from the digit.

    Writers circle or underline an answer, and forms print a box for each digit. Kept, the mark
    is part of what the network sees: a circled 1 was read "0", a boxed 4 "8", an underlined 7
    "2" (docs/photos.md, eleventh round). digit_strokes cannot help: the ring is often the
    heaviest piece, and the digit joins it. A ring or box is a piece that surrounds the ink
    inside its box -- it lies in RING_COVER of the directions seen from that ink's centre (a
    digit's own loop seen from a stroke beside it covers about half, a 6's curve round what a
    flash's glare left of its loop 80%) -- and that ink is a digit's weight, not a speck
    (RING_INNER_SHARE). An underline is a flat, straight piece (UNDERLINE_FLAT,
    UNDERLINE_STRAIGHT: a 3's bowl cut off by a streaky marker curls up) lying wholly under the
    rest's heavy ink, a little apart (UNDERLINE_GAP) and close, and spanning most of it
    (UNDERLINE_SPAN). A mark touching the digit is one piece with it and stays."""
    from scipy import ndimage  # lazily: only images that need it pay its import

    labels, mass = _ink_pieces(ink)
    n = mass.size
    if n <= 1:
        return ink
    boxes = ndimage.find_objects(labels)
    drop = np.zeros(n + 1, dtype=bool)
    for i in np.argsort(-mass):
        if mass[i] < 0.1 * mass.max():
            break  # a mark is drawn with the pen that wrote the digit: no speck is one
        by, bx = boxes[i]
        piece = labels[by, bx] == i + 1
        others = [j for j in range(n) if j != i and not drop[j + 1]]
        if not others:
            break
        heavy_mass = max(mass[j] for j in others)
        heavy = [j for j in others if mass[j] >= 0.1 * heavy_mass]
        # a ring or box: the ink strictly inside its box, seen from its centre
        inner = [j for j in others if boxes[j][0].start > by.start and boxes[j][0].stop < by.stop
                 and boxes[j][1].start > bx.start and boxes[j][1].stop < bx.stop
                 and mass[j] >= RING_SPECK * mass[i]]  # grain inside a digit's curve is no digit
        inner_mass = sum(mass[j] for j in inner)
        if inner and inner_mass >= RING_INNER_SHARE * mass[i]:
            inside = np.isin(labels[by, bx], np.asarray(inner) + 1)
            cy, cx = ndimage.center_of_mass(np.where(inside, ink[by, bx], 0))
            # drawn round the digit, clear of it (a noisy stroke's own outline holds the stroke's
            # inside, broken into pieces by the noise, a third of its width away)
            pen = 2.0 * float(np.quantile(ndimage.distance_transform_edt(piece)[piece], 0.9))
            clear = float(ndimage.distance_transform_edt(~piece)[inside].min())
            if clear >= RING_CLEARANCE * pen and _surrounds(piece, cy, cx) >= RING_COVER:
                drop[i + 1] = True
                continue
        # an underline: flat, under the rest's heavy ink, a little apart and close, spanning it
        height, width = by.stop - by.start, bx.stop - bx.start
        if height > UNDERLINE_FLAT * width:
            continue
        top = min(boxes[j][0].start for j in heavy)
        bottom = max(boxes[j][0].stop for j in heavy)
        left = min(boxes[j][1].start for j in heavy)
        right = max(boxes[j][1].stop for j in heavy)
        gap = by.start - bottom
        overlap = min(right, bx.stop) - max(left, bx.start)
        if (max(2.0, UNDERLINE_GAP * (bottom - top)) <= gap <= bottom - top
                and overlap >= UNDERLINE_SPAN * (right - left) and _straight(piece)):
            drop[i + 1] = True
    if not drop.any():
        return ink
    return np.where(drop[labels], np.float32(0), ink)


def digit_strokes(ink: np.ndarray) -> np.ndarray:
    """The ink of the digit itself: isolated specks and stray marks far from it set to 0.

    Grain, dust and JPEG blocks that survive the noise threshold are small blobs scattered over
    the paper; kept, they stretch the bounding box and the digit shrinks into a corner of the
    28x28. The ink is split into connected pieces (8-neighbours); the heaviest piece is the
    digit's core, and other pieces join it -- growing its box -- when they are heavy enough for
    their distance to it: broken or dotted strokes (a fine pen, pencil, a 5's detached bar) lie
    close; specks are light and anywhere. Pieces that touch the image's edge (the edge of a
    sheet, a crease, a finger, a line drawn across) weigh less as the core (EDGE_WEIGHT), must
    be heavier still to join (EDGE_SHARE) and may not stretch the digit's box (EDGE_GROWTH)
    unless they are digit-sized (the first digit of a tightly cropped number); a solid region at
    the edge, many times deeper than the pen inside (a wedge of shadow), is dropped
    (_solid_at_edge). The rule is in KEEP_RULES. When the pieces kept hold less than
    MIN_DIGIT_SHARE of all the ink, the image is texture or noise, not a digit on specked paper,
    and is returned unchanged.
    """
    from scipy import ndimage  # lazily: only images that need cropping pay its import

    labels, mass = _ink_pieces(ink)
    n = mass.size
    if n <= 1:
        return ink
    boxes = ndimage.find_objects(labels)
    h, w = ink.shape
    # the core: the heaviest piece, though one touching the image's edge (a crease, the sheet's
    # edge, a shadow) counts EDGE_WEIGHT as much -- a digit is written inside the frame
    at_edge = np.array([b[0].start == 0 or b[1].start == 0 or b[0].stop == h or b[1].stop == w for b in boxes])
    solid = _solid_at_edge(labels, mass, boxes, at_edge)
    main = int(np.argmax(np.where(solid, 0.0, np.where(at_edge, EDGE_WEIGHT, 1.0) * mass)))
    y0, y1, x0, x1 = boxes[main][0].start, boxes[main][0].stop, boxes[main][1].start, boxes[main][1].stop
    keep = np.zeros(n, dtype=bool)
    keep[main] = True
    core_h = y1 - y0
    total = mass[main]
    changed = True
    while changed:
        changed = False
        size = max(y1 - y0, x1 - x0)
        for i in np.flatnonzero(~keep & ~solid):
            by, bx = boxes[i]
            gap = max(y0 - by.stop, by.start - y1, x0 - bx.stop, bx.start - x1, 0)
            share = mass[i] / total
            grown = max(max(y1, by.stop) - min(y0, by.start), max(x1, bx.stop) - min(x0, bx.start))
            piece_h, piece_w = by.stop - by.start, bx.stop - bx.start
            digit_sized = 0.6 * core_h <= piece_h <= 1.4 * core_h and piece_w <= 1.2 * piece_h  # a neighbour
            if at_edge[i] and grown > EDGE_GROWTH * size and not digit_sized:  # a line from the edge
                continue
            if any(share >= min_share * (EDGE_SHARE if at_edge[i] else 1) and gap <= max_gap * size
                   for min_share, max_gap in KEEP_RULES):
                keep[i] = True
                total += mass[i]
                y0, y1, x0, x1 = min(y0, by.start), max(y1, by.stop), min(x0, bx.start), max(x1, bx.stop)
                changed = True
    if keep.all():
        return ink
    mass = np.where(solid, 0.0, mass)  # solid regions go: they are neither the digit nor the image's texture
    if total < MIN_DIGIT_SHARE * float(mass.sum()):
        # most of the ink is elsewhere: texture or noise, shown as it is -- unless the pieces
        # kept are far denser than what lies around them (a faint, broken digit on grainy or
        # squared paper whose remains add up to more ink than the digit)
        box_area = (y1 - y0) * (x1 - x0)
        inside = total / box_area
        outside = (float(mass.sum()) - total) / max(h * w - box_area, 1)
        heaviest_dropped = float(mass[~keep].max())
        if inside < MIN_DIGIT_DENSITY * outside or heaviest_dropped > 0.5 * total:
            return ink
    return np.where(np.concatenate(([False], keep))[labels], ink, np.float32(0))


def _solid_at_edge(labels: np.ndarray, mass: np.ndarray, boxes: list, at_edge: np.ndarray) -> np.ndarray:
    """Which pieces (n,) are solid regions at the image's edge beside a pen's strokes (SOLID_DEPTH).

    A wedge of shadow or a strip of table the earlier steps left in the frame outweighs a fine
    pen's digit even at EDGE_WEIGHT: the network got the wedge. A digit is written with one pen,
    so its ink is about as deep everywhere; a region reaching in from the frame's edge, many
    times deeper than the strokes inside it, is not written. Depth: the 90th percentile of each
    ink pixel's distance to the paper, measured in the piece's box (the frame's edge is not paper).
    """
    from scipy import ndimage  # lazily: digit_strokes has imported it already

    h, w = labels.shape
    solid = np.zeros(mass.size, dtype=bool)
    if at_edge.all() or not at_edge.any():
        return solid

    def depth(i: int) -> float:
        ys, xs = boxes[i]
        ys = slice(max(ys.start - 1, 0), min(ys.stop + 1, h))  # one row of paper round it, inside the frame
        xs = slice(max(xs.start - 1, 0), min(xs.stop + 1, w))
        piece = labels[ys, xs] == i + 1
        return float(np.quantile(ndimage.distance_transform_edt(piece)[piece], 0.9))

    inner = int(np.argmax(np.where(at_edge, -1.0, mass)))
    pen = depth(inner)
    span = _longer_side(boxes[inner])
    if span < SOLID_STROKE * pen:
        return solid  # no stroke inside to compare with (specks, blobs)
    for i in np.flatnonzero(at_edge & (mass >= EDGE_WEIGHT * mass[inner])):
        deep = depth(int(i))
        if deep < SOLID_DEPTH * max(pen, 1.0):
            continue
        # (a marker's stroke running off the frame is as deep, but it meets the frame along its
        # width only and is longer than a stray thin line beside it)
        meets = int((labels[[0, -1]] == i + 1).sum() + (labels[:, [0, -1]] == i + 1).sum())
        solid[i] = meets >= SOLID_CONTACT * deep or span >= SOLID_SPAN * _longer_side(boxes[i])
    return solid


def _longer_side(box: tuple[slice, slice]) -> int:
    """The longer side, in pixels, of a (rows, columns) box as ndimage.find_objects gives it."""
    ys, xs = box
    return max(ys.stop - ys.start, xs.stop - xs.start)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def center_of_mass(a: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass in index coordinates (pixel i has its centre at i)."""
    total = float(a.sum())
    rows = a.sum(axis=1)
    cols = a.sum(axis=0)
    return (
        float(rows @ np.arange(a.shape[0], dtype=np.float64)) / total,
        float(cols @ np.arange(a.shape[1], dtype=np.float64)) / total,
    )


def stroke_width(ink: np.ndarray) -> float:
    """The pen's width in pixels: twice the median distance-to-paper along the strokes' spine.

    The distance transform gives each ink pixel (ink > 0.5) its distance to the nearest paper;
    on the spine of a stroke (pixels no lower than their 8 neighbours) that is half the width.
    ``2 d - 1`` counts the spine pixel once (a 1-px line gives 1). 0.0 if there is no such ink.
    """
    from scipy import ndimage

    mask = ink > 0.5
    if not mask.any():
        return 0.0
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    spine = mask & (distance >= ndimage.maximum_filter(distance, size=3))
    return float(2.0 * np.median(distance[spine]) - 1.0)


def normalise_stroke(crop: np.ndarray) -> np.ndarray:
    """Thicken a fine pen's strokes to MNIST_STROKE px after scaling to BOX px, thin a marker's
    to THIN_STROKE px (widths already within STROKE_BAND of MNIST_STROKE are left alone).

    The digit's box grows with the pen (by the width change), so the width wanted here is
    W' = T (L - W) / (BOX - T) for the longer side L, width W and target T: then W' BOX / (L - W
    + W') = T. Thickening moves a round pen of radius (W' - W) / 2 along the ink (distance to
    the ink, antialiased); thinning keeps the ink deeper than (W - W') / 2 inside the strokes --
    or less deep, so that MIN_INK_KEPT of the ink stays (a blob, such as a marker's filled-in
    loop, measures far wider than its strokes and would be thinned away).
    """
    from scipy import ndimage

    width = stroke_width(crop)
    longer = max(crop.shape)
    if width <= 0 or longer <= 2 * width:
        return crop
    now = width * BOX / longer
    if STROKE_BAND[0] * MNIST_STROKE <= now <= STROKE_BAND[1] * MNIST_STROKE:
        return crop
    target = MNIST_STROKE if now < MNIST_STROKE else THIN_STROKE
    wanted = max(1.0, target * (longer - width) / (BOX - target))
    if wanted > width:
        r = (wanted - width) / 2
        pad = int(np.ceil(r)) + 1
        padded = np.pad(crop, pad)
        distance = ndimage.distance_transform_edt(padded <= 0.3)
        return np.maximum(padded, np.clip(r + 0.5 - distance, 0.0, 1.0)).astype(np.float32)
    r = (width - wanted) / 2
    depth = ndimage.distance_transform_edt(np.pad(crop > 0.5, 1))[1:-1, 1:-1]
    inked = int((crop > 0.5).sum())
    for _ in range(4):  # a blob (a filled-in loop) is no stroke: never thin away most of the ink
        thinned = (crop * np.clip(depth - r + 0.5, 0.0, 1.0)).astype(np.float32)
        if (thinned > 0.5).sum() >= MIN_INK_KEPT * inked:
            return thinned
        r *= 0.6
    return crop


def center_digit(ink: np.ndarray, *, name: str | Path = "image", normalise: bool = True) -> np.ndarray:
    """Crop to the ink, scale the longer side to BOX px, centre of mass at (CENTER, CENTER).

    One resampling step maps output pixel centres back into the source: with scale s and the
    source centre of mass (cy, cx), output index coordinate y comes from source y' = cy + (y -
    CENTER) / s. Pillow's ``resize(box=...)`` takes that fractional source rectangle directly.
    """
    box = _bbox(ink > 0)
    if box is None:
        raise _err(name, "no digit found (no ink above the noise level)")
    y0, y1, x0, x1 = box
    crop = ink[y0:y1, x0:x1]
    if normalise:
        crop = normalise_stroke(crop)
        y0, y1, x0, x1 = _bbox(crop > 0)
        crop = crop[y0:y1, x0:x1]
    k = max(h_w := max(crop.shape), 1) // (4 * BOX)
    if k >= 2:  # a big digit: average k x k blocks first (exact area average, keeps the padding small)
        h, w = crop.shape
        hp, wp = -(-h // k) * k, -(-w // k) * k
        block = np.zeros((hp, wp), dtype=np.float32)
        block[:h, :w] = crop
        crop = block.reshape(hp // k, k, wp // k, k).mean(axis=(1, 3))
        s = BOX * k / h_w  # the scale from the reduced crop, so the original box still maps to 20 px
    else:
        s = BOX / h_w
    h, w = crop.shape
    # pad so the source rectangle of the whole 28x28 output always lies inside the array
    pad = int(np.ceil((CENTER + 1) / s)) + 2
    padded = np.zeros((h + 2 * pad, w + 2 * pad), dtype=np.float32)
    padded[pad : pad + h, pad : pad + w] = crop
    cy, cx = center_of_mass(padded)
    # source rectangle, in Pillow's continuous coordinates (pixel i spans [i, i+1), centre i+.5):
    # output edge 0 <-> source (c + 0.5) - (CENTER + 0.5) / s
    top = cy + 0.5 - (CENTER + 0.5) / s
    left = cx + 0.5 - (CENTER + 0.5) / s
    span = SIDE / s
    src = Image.fromarray(padded, "F")
    resample = Image.Resampling.BOX if s < 1 else Image.Resampling.BILINEAR
    out = src.resize((SIDE, SIDE), resample, box=(left, top, left + span, top + span))
    arr = np.asarray(out, dtype=np.float32).copy()
    np.clip(arr, 0.0, 1.0, out=arr)
    peak = float(arr.max())
    if peak <= 0:
        raise _err(name, "no digit found (no ink above the noise level)")
    arr *= np.float32(1.0 / peak)  # thin strokes averaged down: stroke cores back to 1 like MNIST
    return arr


# ------------------------------------------------------------------------------------------ raw


def _raw(grey: np.ndarray, full: float) -> np.ndarray:
    """Pixels of a 28x28 image as they are, on MNIST's scale: inverted if dark-on-light."""
    dark, _, _ = _dark_on_light(grey, full)
    if np.issubdtype(grey.dtype, np.integer):
        a = (int(full) - grey.astype(np.int64)) if dark else grey
        arr = np.asarray(a, dtype=np.float32) / np.float32(full)
    else:
        arr = grey.astype(np.float32) / np.float32(full)
        if dark:
            arr = np.float32(1.0) - arr
    return np.clip(arr, 0.0, 1.0)


def looks_like_mnist(grey: np.ndarray, full: float) -> bool:
    """A 28x28 image whose ink box is 19-21 px and whose centre of mass is within 1 px of
    (14, 14), on a black (or white) background with strong ink, is already in MNIST format (e.g.
    an MNIST digit saved as PNG): take it raw."""
    if grey.shape != (SIDE, SIDE):
        return False
    dark, bg, contrast = _dark_on_light(grey, full)
    # MNIST's background is black (white when inverted) and its strokes' cores reach full ink: a
    # crop of grey paper or faint pencil is a photo, whose grey must become black background
    paper = (full - bg) if dark else bg
    if paper > MNIST_PAPER * full or contrast < MNIST_CONTRAST * full:
        return False
    g = grey.astype(np.float32)
    ink = (bg - g) if dark else (g - bg)
    ink[ink < 0.05 * contrast] = 0
    box = _bbox(ink > 0)
    if box is None:
        return False
    y0, y1, x0, x1 = box
    if not 19 <= max(y1 - y0, x1 - x0) <= 21:
        return False
    cy, cx = center_of_mass(ink)
    return abs(cy - CENTER) <= 1.0 and abs(cx - CENTER) <= 1.0


# --------------------------------------------------------------------------------------- public


@dataclass(frozen=True)
class Prepared:
    """An image ready for the network, plus what is useful to show the user."""

    vector: np.ndarray  # (784,) float32 in [0, 1], ink high
    raw: bool  # True if the pixels were taken as they are (no crop/scale/centre)
    # where this digit is in the image, (left, top, right, bottom) in its pixels -- set only when
    # the image holds several digits (prepare_all)
    box: tuple[int, int, int, int] | None = None


def _grey_of(image_or_path: Image.Image | str | Path, raw: bool) -> tuple[np.ndarray, float, str | Path, float]:
    """``(grey, full scale, name, original width / grey width)`` of an image or image file."""
    if isinstance(image_or_path, Image.Image):
        image, name = image_or_path, getattr(image_or_path, "filename", "") or "image"
    else:
        name = image_or_path
        image = open_image(image_or_path)
    if raw and image.size != (SIDE, SIDE):
        w, h = image.size
        raise _err(name, f"is {w}x{h}, not {SIDE}x{SIDE}: raw pixels (--no-preprocess) need an image "
                   "already in MNIST format; leave the option out to have it preprocessed")
    try:
        grey, full = to_grey(image)
    except (OSError, ValueError) as exc:  # exotic modes Pillow cannot convert
        raise _err(name, f"unsupported image mode {image.mode!r} ({exc})") from None
    return grey, full, name, image.size[0] / grey.shape[1]


def _photo_ink(grey: np.ndarray, full: float, name: str | Path) -> np.ndarray:
    """Steps 3-4: frame, sheet, lighting, ink; paper lines, creases, marks, the digit's own pieces, broken strokes."""
    ink, beyond_sheet = _ink_and_sheet(grey, full, name)
    return bridge_gaps(digit_strokes(remove_marks(remove_straight_lines(remove_paper_lines(ink, beyond_sheet)))))


def neighbours(m: np.ndarray) -> list[np.ndarray]:
    """P2..P9 of Zhang & Suen (clockwise from north) for every pixel of a bool image (H, W), or of
    each image of a batch (..., H, W); outside the image is paper."""
    p = np.pad(m, [(0, 0)] * (m.ndim - 2) + [(1, 1), (1, 1)])
    return [p[..., :-2, 1:-1], p[..., :-2, 2:], p[..., 1:-1, 2:], p[..., 2:, 2:],
            p[..., 2:, 1:-1], p[..., 2:, :-2], p[..., 1:-1, :-2], p[..., :-2, :-2]]


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang & Suen's thinning (CACM 27(3), 1984): the 1-px pen path of a binary stroke image."""
    m = mask.astype(bool).copy()
    while True:
        changed = False
        for step in (0, 1):
            n = neighbours(m)
            b = sum(x.astype(np.uint8) for x in n)
            seq = n + [n[0]]
            a = sum((~seq[k] & seq[k + 1]).astype(np.uint8) for k in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                c = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                c = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            remove = m & (b >= 2) & (b <= 6) & (a == 1) & c
            if remove.any():
                m &= ~remove
                changed = True
        if not changed:
            return m


def _path_distances(path: np.ndarray, sources: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ys, xs)`` of the path's pixels and, from each source pixel (an index into them), the
    distance along the path (8-neighbours, diagonal steps sqrt 2) to every one; inf beyond ``limit``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    ys, xs = np.nonzero(path)
    index = np.full(path.shape, -1, dtype=np.int64)
    index[ys, xs] = np.arange(ys.size)
    h, w = path.shape
    rows, cols, weights = [], [], []
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
        ny, nx = ys + dy, xs + dx
        ok = (ny < h) & (nx >= 0) & (nx < w)
        ok[ok] = path[ny[ok], nx[ok]]
        rows.append(np.flatnonzero(ok))
        cols.append(index[ny[ok], nx[ok]])
        weights.append(np.full(int(ok.sum()), np.hypot(dy, dx)))
    graph = coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(ys.size, ys.size)).tocsr()
    return ys, xs, dijkstra(graph, directed=False, indices=sources, limit=limit)


def _end_directions(points: np.ndarray, end_ids: np.ndarray, along: np.ndarray, trace: float) -> np.ndarray:
    """Unit vector (dy, dx) in which each stroke end points: from the mean of the path between
    trace/2 and trace behind it (``along``: distances along the path from each end) to the end.
    A stroke shorter than that uses all of it beyond 2 px; a dot has no direction (0, 0)."""
    directions = np.zeros((end_ids.size, 2))
    for k, i in enumerate(end_ids):
        behind = (along[k] >= trace / 2) & (along[k] <= trace)
        if not behind.any():
            behind = np.isfinite(along[k]) & (along[k] >= 2)
            if not behind.any():
                continue
        v = points[i] - points[behind].mean(axis=0)
        norm = float(np.hypot(*v))
        if norm > 0:
            directions[k] = v / norm
    return directions


def _join_candidates(points: np.ndarray, end_ids: np.ndarray, directions: np.ndarray, along: np.ndarray,
                     height: int) -> list[tuple[float, int, int, int]]:
    """Every join an end may make, as ``(cost, end k, path pixel j, j's end number or -1)``: to an
    end pointing back at it (SKIP_TO_END, cones SKIP_END_CONE each and SKIP_END_CONES together)
    or to the side of a stroke it points at (SKIP_TO_STROKE, SKIP_CONE), where going round along
    the path is SKIP_DETOUR x longer. Nearer and straighter joins cost less."""
    cone = np.cos(np.deg2rad(SKIP_CONE))
    end_cone = np.cos(np.deg2rad(SKIP_END_CONE))
    far = max(SKIP_TO_END, SKIP_TO_STROKE) * height
    end_of = np.full(points.shape[0], -1)
    end_of[end_ids] = np.arange(end_ids.size)
    candidates = []
    for k, i in enumerate(end_ids):
        if not directions[k].any():
            continue
        v = points - points[i]
        d = np.hypot(v[:, 0], v[:, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = (v @ directions[k]) / d  # how straight ahead of the end each path pixel lies
        ok = (d >= 1.5) & (d <= far) & (cos >= end_cone) & ~(along[k] <= SKIP_DETOUR * d)
        for j in np.flatnonzero(ok):
            other = end_of[j]
            if other >= 0:  # another end: it must point back, and the two turn <= SKIP_END_CONES in all
                back = -(v[j] @ directions[other]) / d[j]
                if (d[j] > SKIP_TO_END * height or back < end_cone
                        or np.degrees(np.arccos(min(cos[j], 1.0)) + np.arccos(min(back, 1.0))) > SKIP_END_CONES):
                    continue
            elif d[j] > SKIP_TO_STROKE * height or cos[j] < cone:  # a stroke's side
                continue
            candidates.append((d[j] * (2.0 - cos[j]), k, int(j), int(other)))
    candidates.sort()
    return candidates


def _crosses_other_piece(pieces: np.ndarray, a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    """Does the straight join from path point ``a`` to ``b`` (``margin`` px kept clear at both
    ends) pass over a piece of ink (``pieces``: labels) other than the two it joins?"""
    d = float(np.hypot(*(b - a)))
    t = np.arange(margin, d - margin + 1e-9, 0.5)
    if not t.size:
        return False
    q = np.rint(a + (b - a)[None, :] * (t / d)[:, None]).astype(int)
    crossed = pieces[q[:, 0], q[:, 1]]
    ends = (pieces[tuple(a.astype(int))], pieces[tuple(b.astype(int))])
    return bool(np.isin(crossed[crossed > 0], ends, invert=True).any())


def _draw_segment(out: np.ndarray, a: np.ndarray, b: np.ndarray, half_width: float) -> None:
    """Ink a straight stroke from ``a`` to ``b`` (row, column) ``half_width`` px wide (1 px soft edge) into ``out``."""
    h, w = out.shape
    top, left = np.floor(np.minimum(a, b) - half_width - 1).astype(int)
    bottom, right = np.ceil(np.maximum(a, b) + half_width + 2).astype(int)
    top, left, bottom, right = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    yy, xx = np.mgrid[top:bottom, left:right].astype(np.float64)
    seg = b - a
    t = np.clip(((yy - a[0]) * seg[0] + (xx - a[1]) * seg[1]) / max(float(seg @ seg), 1e-9), 0.0, 1.0)
    dist = np.hypot(yy - (a[0] + t * seg[0]), xx - (a[1] + t * seg[1]))
    stroke = np.clip(half_width + 0.5 - dist, 0.0, 1.0).astype(np.float32)
    np.maximum(out[top:bottom, left:right], stroke, out=out[top:bottom, left:right])


def join_skipped_ends(ink: np.ndarray, box: tuple[int, int, int, int], half_width: float) -> np.ndarray:
    """Close the gaps a skipping pen leaves *along* its strokes: a loop's side or a junction that
    a round pen (bridge_gaps) cannot reach across.

    At SKIP_HEIGHT px tall, the strokes' skeleton (Zhang-Suen) gives each stroke end a direction
    (over its last SKIP_TRACE of the height). An end is joined, by a straight stroke
    ``half_width`` px wide in ``ink``'s pixels, to what it points at: another end pointing back at
    it (up to SKIP_TO_END of the height away) or the side of a stroke (up to SKIP_TO_STROKE) --
    only if going round along the strokes (Dijkstra on the skeleton) is SKIP_DETOUR x longer than
    the join (a gap, not a curve's own bend) and the join crosses no other piece of ink. Each end
    is joined once, the nearest and straightest first. A digit's own ends rarely point at ink
    close by; a pen that skipped leaves ends that point at each other."""
    from scipy import ndimage

    # 1. the path at SKIP_HEIGHT px tall, its ends, and distances along it from each end
    y0, y1, x0, x1 = box
    f = min(1.0, SKIP_HEIGHT / (y1 - y0))
    small_size = (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))
    small = np.asarray(Image.fromarray(ink[y0:y1, x0:x1], "F").resize(small_size, Image.Resampling.BOX)) > 0.3
    path = skeleton(small)
    ends_mask = path & (sum(x.astype(np.uint8) for x in neighbours(path)) == 1)
    if not ends_mask.any():
        return ink
    height = small.shape[0]
    trace = SKIP_TRACE * height
    ys, xs = np.nonzero(path)
    end_ids = np.flatnonzero(ends_mask[ys, xs])
    far = max(SKIP_TO_END, SKIP_TO_STROKE) * height
    ys, xs, along = _path_distances(path, end_ids, max(SKIP_DETOUR * far, trace))
    points = np.stack([ys, xs], axis=1).astype(np.float64)
    # 2. what each end points at; 3. the joins taken, best first, each end once, none over other ink
    directions = _end_directions(points, end_ids, along, trace)
    margin = max(1.5, float(half_width * f) + 1.0)
    pieces = ndimage.label(small, structure=np.ones((3, 3), dtype=bool))[0]
    used = np.zeros(end_ids.size, dtype=bool)
    joins = []
    for _, k, j, other in _join_candidates(points, end_ids, directions, along, height):
        if used[k] or (other >= 0 and used[other]):
            continue
        if _crosses_other_piece(pieces, points[end_ids[k]], points[j], margin):
            continue  # not a gap
        used[k] = True
        if other >= 0:
            used[other] = True
        joins.append((points[end_ids[k]], points[j]))
    if not joins:
        return ink
    # 4. each join drawn in ink's pixels: small pixel centre i <-> crop coordinate (i + 0.5) / f - 0.5
    out = ink.copy()
    for a, b in joins:
        _draw_segment(out, (a + 0.5) / f - 0.5 + (y0, x0), (b + 0.5) / f - 0.5 + (y0, x0), half_width)
    return out


def bridge_gaps(ink: np.ndarray) -> np.ndarray:
    """A fine pen's strokes thickened to BRIDGE_WIDTH of the writing's height, so the gaps of a
    pen that skips close and a broken 0 is not cut into two digits (mnist_app.segment cuts at
    empty or thin columns). Only strokes thinner than that change; the gaps between the digits
    of a number (>= 0.12 x their height, segment.MIN_GAP 0.08) stay open. Longer gaps along a
    stroke (a loop's side, a junction) are then joined where the strokes' ends point
    (join_skipped_ends)."""
    from scipy import ndimage

    box = _bbox(ink > 0)
    if box is None:
        return ink
    y0, y1, x0, x1 = box
    crop = ink[y0:y1, x0:x1]
    # first a cheap look (a stroke of length L and width W has area L W and ~2 L edge pixels): a
    # drawing's pen is wide, and the distance transform of stroke_width is not needed
    inked = np.pad(crop > 0.5, 1)
    inside = inked[1:-1, 1:-1] & inked[:-2, 1:-1] & inked[2:, 1:-1] & inked[1:-1, :-2] & inked[1:-1, 2:]
    area = int(inked.sum())
    if area and 2 * area / max(area - int(inside.sum()), 1) >= 1.5 * BRIDGE_WIDTH * (y1 - y0):
        return ink
    if ndimage.label(crop > 0)[1] > BRIDGE_MAX_PIECES:
        return ink  # not a pen's strokes but a texture (noise): thickened, it would become a blob
    width = stroke_width(crop)
    r = (BRIDGE_WIDTH * (y1 - y0) - max(width, 1.0)) / 2
    if width <= 0 or r < 0.5:
        return ink
    pad = int(np.ceil(r)) + 1
    distance = ndimage.distance_transform_edt(np.pad(crop, pad) <= 0.3)
    grown = np.clip(r + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    out = np.zeros((ink.shape[0] + 2 * pad, ink.shape[1] + 2 * pad), np.float32)
    out[y0 : y1 + 2 * pad, x0 : x1 + 2 * pad] = grown
    out = out[pad:-pad, pad:-pad]
    return join_skipped_ends(np.maximum(ink, out), box, BRIDGE_WIDTH * (y1 - y0) / 2)


def prepare(image_or_path: Image.Image | str | Path, *, raw: bool = False) -> Prepared:
    """Like `image_to_mnist` but also says whether the raw (MNIST-format) path was used."""
    grey, full, name, _ = _grey_of(image_or_path, raw)
    if raw or looks_like_mnist(grey, full):
        return Prepared(_raw(grey, full).reshape(SIDE * SIDE), True)
    ink = _photo_ink(grey, full, name)
    return Prepared(center_digit(ink, name=name).reshape(SIDE * SIDE), False)


def prepare_all(image_or_path: Image.Image | str | Path, *, raw: bool = False, judge=None) -> list[Prepared]:
    """One Prepared per digit, left to right: a number written in a row gives several, each with
    its box (mnist_app.segment finds them; ``judge``, number.confidence_judge, lets it split
    touching digits by the network's confidence). An image of one digit gives exactly what
    `prepare` gives (box None)."""
    from mnist_app.segment import find_digits

    grey, full, name, scale = _grey_of(image_or_path, raw)
    if raw or looks_like_mnist(grey, full):
        return [Prepared(_raw(grey, full).reshape(SIDE * SIDE), True)]
    ink = _photo_ink(grey, full, name)
    digits = find_digits(ink, judge)
    if len(digits) <= 1:
        return [Prepared(center_digit(ink, name=name).reshape(SIDE * SIDE), False)]
    out = []
    for d in digits:
        top, bottom, left, right = d.box
        box = (int(left * scale), int(top * scale), int(np.ceil(right * scale)), int(np.ceil(bottom * scale)))
        out.append(Prepared(center_digit(d.ink, name=name).reshape(SIDE * SIDE), False, box))
    return out


def image_to_mnist(image_or_path: Image.Image | str | Path, *, raw: bool = False) -> np.ndarray:
    """A PIL image or an image file -> (784,) float32 in [0, 1], white ink on black like MNIST.

    ImageError (naming the file) for unreadable files and for images with no digit.
    """
    return prepare(image_or_path, raw=raw).vector


def is_image_file(path: Path) -> bool:
    """True for the file-name suffixes a directory walk picks up (case-insensitive)."""
    return path.suffix.lower() in IMAGE_SUFFIXES

