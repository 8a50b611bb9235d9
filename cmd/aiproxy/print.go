package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// termSafe returns text from the database as it may be printed to an
// operator's terminal. Names, URLs and details are untrusted: a control
// character in one (an ANSI escape sequence that recolours, retitles or
// rewrites the screen, a carriage return or newline that forges a row, a
// tab that shifts the columns), an invisible format character such as a
// bidirectional override, or invalid UTF-8 makes the whole text printed
// Go-quoted, with those escaped. Plain text is printed as it is.
func termSafe(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// table writes rows as aligned columns under a header; row prints one
// row, each cell formatted with fmt.Sprint and passed through termSafe, so
// that no command can print a database value raw.
func table(w io.Writer, header string, rows func(row func(cells ...any))) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(func(cells ...any) {
		for i, c := range cells {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, termSafe(fmt.Sprint(c)))
		}
		io.WriteString(tw, "\n")
	})
	return tw.Flush()
}

// escapeJSON rewrites, as \u escapes, the characters of encoded JSON that
// a terminal would act on or hide and that encoding/json leaves raw (DEL,
// the C1 controls, format characters such as bidirectional overrides).
// Such characters can only occur inside strings in valid JSON, where the
// escape means the same, so the JSON stays valid and equal.
func escapeJSON(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for _, r := range string(b) {
		if r == '\n' || unicode.IsPrint(r) {
			out = utf8.AppendRune(out, r)
			continue
		}
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			continue
		}
		out = fmt.Appendf(out, `\u%04x`, r)
	}
	return out
}
