package sandbox

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
)

// formFile is one file part of a multipart/form-data body.
type formFile struct {
	filename    string
	contentType string
	data        []byte
}

// form is a parsed multipart/form-data body: its text fields and its file parts, by name.
type form struct {
	values map[string][]string
	files  map[string][]formFile
}

// parseForm reads c's body as multipart/form-data. A body that is not multipart, or that
// breaks off, gives the parts read so far (none at worst), so that a handler answers with
// its own "field required" errors the way FastAPI does.
func parseForm(c *call) *form {
	f := &form{values: map[string][]string{}, files: map[string][]formFile{}}
	mt, params, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return f
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return f
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return f
		}
		name := part.FormName()
		if part.FileName() == "" {
			f.values[name] = append(f.values[name], string(data))
			continue
		}
		ct := part.Header.Get("Content-Type")
		if ct == "" || ct == "application/octet-stream" {
			ct = sniffAsset(data)
		}
		f.files[name] = append(f.files[name], formFile{filename: part.FileName(), contentType: ct, data: data})
	}
}

// value returns the first value of a text field and whether it was sent.
func (f *form) value(name string) (string, bool) {
	vs, ok := f.values[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// file returns the first file sent under name.
func (f *form) file(name string) (formFile, bool) {
	fs := f.files[name]
	if len(fs) == 0 {
		return formFile{}, false
	}
	return fs[0], true
}

// formBool reads an optional boolean form field the way pydantic does, adding a 422 item
// to items when the text is not a boolean.
func (f *form) formBool(name string, def bool, items *[]validationItem) bool {
	v, ok := f.value(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on", "t", "y":
		return true
	case "false", "0", "no", "off", "f", "n":
		return false
	}
	*items = append(*items, validationItem{Type: "bool_parsing", Loc: []any{"body", name},
		Msg: "Input should be a valid boolean, unable to interpret input", Input: v})
	return def
}

// formInt reads an optional integer form field, adding a 422 item when it is not one.
func (f *form) formInt(name string, def int, items *[]validationItem) int {
	v, ok := f.value(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		*items = append(*items, validationItem{Type: "int_parsing", Loc: []any{"body", name},
			Msg: "Input should be a valid integer, unable to parse string as an integer", Input: v})
		return def
	}
	return n
}

// missingItem is pydantic's item for a required field that was not sent.
func missingItem(loc ...any) validationItem {
	return validationItem{Type: "missing", Loc: loc, Msg: "Field required"}
}
