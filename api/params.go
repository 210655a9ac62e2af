package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/smppd/smppd/internal/msisdn"
)

// params are request parameters with lower-cased names, merged from the query string and
// the body (urlencoded, multipart, JSON, or the Python-dict-like text some clients send).
// A body value wins over a query value of the same name.
type params map[string]string

func (p params) get(name string) string { return strings.TrimSpace(p[name]) }

var errBodyTooLarge = errors.New("body too large")

// readParams merges the query and the body. A body is read whatever the method (one client
// sends GET with a body). The error is errBodyTooLarge or a description of a malformed body.
func readParams(w http.ResponseWriter, r *http.Request, limit int64) (params, error) {
	p := params{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			p[strings.ToLower(k)] = vs[0]
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return p, nil
	}
	r.Body = bodyLimit(w, r.Body, limit)
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		if ctParams["boundary"] == "" {
			return p, errors.New("multipart body without a boundary")
		}
		if err := r.ParseMultipartForm(limit); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return p, errBodyTooLarge
			}
			return p, errors.New("malformed multipart body")
		}
		for k, vs := range r.MultipartForm.Value {
			if len(vs) > 0 {
				p[strings.ToLower(k)] = vs[0]
			}
		}
		return p, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return p, errBodyTooLarge
		}
		return p, errors.New("could not read the body")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return p, nil
	}
	if body[0] == '{' {
		m, err := parseJSONish(body)
		if err != nil {
			return p, err
		}
		for k, v := range m {
			p[strings.ToLower(k)] = v
		}
		return p, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return p, errors.New("malformed urlencoded body")
	}
	for k, vs := range vals {
		if len(vs) > 0 {
			p[strings.ToLower(k)] = vs[0]
		}
	}
	return p, nil
}

// parseJSONish reads a flat JSON object, or the Python-dict form {'From':'X',...} (single
// quotes) that some clients send. Numbers and booleans become their text; arrays of scalars
// are joined with commas (a list of numbers for "to").
func parseJSONish(b []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	err := json.Unmarshal(b, &raw)
	if err != nil && bytes.ContainsRune(b, '\'') {
		err = json.Unmarshal(bytes.ReplaceAll(b, []byte("'"), []byte(`"`)), &raw)
	}
	if err != nil {
		return nil, errors.New("malformed JSON body: " + err.Error())
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := scalar(v); ok {
			out[k] = s
			continue
		}
		var arr []json.RawMessage
		if json.Unmarshal(v, &arr) == nil {
			var parts []string
			for _, e := range arr {
				if s, ok := scalar(e); ok {
					parts = append(parts, s)
				}
			}
			out[k] = strings.Join(parts, ",")
		}
	}
	return out, nil
}

func scalar(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if d.Decode(&n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		if b {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// numberList splits a "to" value: commas (a trailing one is fine), with spaces and braces
// that clients leave around numbers removed.
func numberList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.Trim(strings.TrimSpace(f), "{}[]\"' ")
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// normalisePhone reads a phone number as msisdn.Normalise does (the one rule for the forms
// clients send) and answers a bad one with 2Factor's replies: "Not An Indian Mobile Number"
// for ten digits that no Indian mobile starts with, "Length Mismatch" for a wrong number of
// digits (or none), and for letters or other characters that are no digits a reply that
// names them (a length would mislead: the client's bug is the characters).
func normalisePhone(s string) (string, *apiError) {
	n, err := msisdn.Normalise(s)
	if err == nil {
		return n, nil
	}
	var e *msisdn.Error
	if errors.As(err, &e) {
		switch e.Problem {
		case msisdn.NotIndianMobile:
			return "", errorf(http.StatusBadRequest, msgNotIndian)
		case msisdn.NotDigits:
			if bad := nonDigits(s); bad != "" {
				return "", errorf(http.StatusBadRequest, msgPhoneNotDigits+bad)
			}
		}
	}
	return "", errorf(http.StatusBadRequest, msgPhoneLength)
}

// nonDigits lists (quoted, at most five) the characters of a phone number that are neither
// digits nor what msisdn.Normalise drops: separators and one leading '+'.
func nonDigits(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	var out []string
	seen := map[rune]bool{}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', strings.ContainsRune(" -().\t", r), seen[r]:
			continue
		}
		seen[r] = true
		if len(out) == 5 {
			out = append(out, "…")
			break
		}
		out = append(out, strconv.QuoteRune(r))
	}
	return strings.Join(out, ", ")
}
