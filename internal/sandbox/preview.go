package sandbox

import (
	"bytes"
	"crypto/sha256"
	"image"
	"image/color"
	"image/png"
	"strings"
	"unicode"
)

// Avatar previews: HeyGen's are photos (WebP on its CDN); the sandbox draws
// a small PNG for each avatar and talking photo instead, its colour and
// initials derived from the id, so that a console shows every avatar apart.

// previewSize is the side of a preview image, in pixels.
const previewSize = 160

// glyphs is a 3×5 pixel font of the letters and digits initials use: five
// rows of three pixels, "#" for ink.
var glyphs = map[rune][5]string{
	'A': {".#.", "#.#", "###", "#.#", "#.#"}, 'B': {"##.", "#.#", "##.", "#.#", "##."},
	'C': {".##", "#..", "#..", "#..", ".##"}, 'D': {"##.", "#.#", "#.#", "#.#", "##."},
	'E': {"###", "#..", "##.", "#..", "###"}, 'F': {"###", "#..", "##.", "#..", "#.."},
	'G': {".##", "#..", "#.#", "#.#", ".##"}, 'H': {"#.#", "#.#", "###", "#.#", "#.#"},
	'I': {"###", ".#.", ".#.", ".#.", "###"}, 'J': {"..#", "..#", "..#", "#.#", ".#."},
	'K': {"#.#", "#.#", "##.", "#.#", "#.#"}, 'L': {"#..", "#..", "#..", "#..", "###"},
	'M': {"#.#", "###", "###", "#.#", "#.#"}, 'N': {"##.", "#.#", "#.#", "#.#", "#.#"},
	'O': {".#.", "#.#", "#.#", "#.#", ".#."}, 'P': {"##.", "#.#", "##.", "#..", "#.."},
	'Q': {".#.", "#.#", "#.#", "##.", ".##"}, 'R': {"##.", "#.#", "##.", "#.#", "#.#"},
	'S': {".##", "#..", ".#.", "..#", "##."}, 'T': {"###", ".#.", ".#.", ".#.", ".#."},
	'U': {"#.#", "#.#", "#.#", "#.#", "###"}, 'V': {"#.#", "#.#", "#.#", "#.#", ".#."},
	'W': {"#.#", "#.#", "###", "###", "#.#"}, 'X': {"#.#", "#.#", ".#.", "#.#", "#.#"},
	'Y': {"#.#", "#.#", ".#.", ".#.", ".#."}, 'Z': {"###", "..#", ".#.", "#..", "###"},
	'0': {"###", "#.#", "#.#", "#.#", "###"}, '1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"##.", "..#", ".#.", "#..", "###"}, '3': {"##.", "..#", ".#.", "..#", "##."},
	'4': {"#.#", "#.#", "###", "..#", "..#"}, '5': {"###", "#..", "##.", "..#", "##."},
	'6': {".##", "#..", "##.", "#.#", ".#."}, '7': {"###", "..#", ".#.", ".#.", ".#."},
	'8': {".#.", "#.#", ".#.", "#.#", ".#."}, '9': {".#.", "#.#", ".##", "..#", "##."},
}

// initials returns up to two letters or digits for an id: the first of its
// first two words ("Abigail_expressive_2024112501" → "AE"), or the first
// two of a one-word id.
func initials(id string) string {
	words := strings.FieldsFunc(strings.ToUpper(id), func(r rune) bool { return !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r))) })
	switch {
	case len(words) == 0:
		return "?"
	case len(words) == 1:
		return string([]rune(words[0])[:min(2, len(words[0]))])
	}
	return words[0][:1] + words[1][:1]
}

// previewColor derives a saturated, mid-dark background colour from an id,
// dark enough for white initials.
func previewColor(id string) color.RGBA {
	sum := sha256.Sum256([]byte(id))
	c := color.RGBA{R: 40 + sum[0]%150, G: 40 + sum[1]%150, B: 40 + sum[2]%150, A: 255}
	// Push one channel down so that no two ids differ only in shades of grey.
	switch sum[3] % 3 {
	case 0:
		c.R /= 3
	case 1:
		c.G /= 3
	default:
		c.B /= 3
	}
	return c
}

// previewPNG draws an id's preview: its colour, its initials in white.
func previewPNG(id string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, previewSize, previewSize))
	bg := previewColor(id)
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, 255
	}
	text := []rune(initials(id))
	const scale, gap = 12, 1 // font pixels are scale image pixels; glyphs gap pixels apart
	width := (len(text)*(3+gap) - gap) * scale
	x0, y0 := (previewSize-width)/2, (previewSize-5*scale)/2
	for i, r := range text {
		g, ok := glyphs[r]
		if !ok {
			continue
		}
		for row, line := range g {
			for col, px := range line {
				if px != '#' {
					continue
				}
				x, y := x0+(i*(3+gap)+col)*scale, y0+row*scale
				for dy := range scale {
					for dx := range scale {
						img.SetRGBA(x+dx, y+dy, color.RGBA{R: 255, G: 255, B: 255, A: 255})
					}
				}
			}
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img) // writing to memory does not fail
	return b.Bytes()
}
