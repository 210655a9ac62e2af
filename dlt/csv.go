package dlt

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Column names seen in DLT portal and aggregator template exports (dlt-smpp.md, addendum),
// normalised: lower case with everything but letters and digits removed, so "TEMPLATE_ID",
// "Template Id" and "template-id" are one name. Earlier names in a list win when a file has
// several of them.
var csvColumns = map[string][]string{
	"id":       {"templateid", "dlttemplateid", "contenttemplateid", "ctid", "dltid", "dltcontentid", "contentid", "dltcontenttemplateid", "id"},
	"text":     {"templatecontent", "content", "tcontent", "templatetext", "templatemessage", "messagecontent", "smscontent", "message", "text", "template"},
	"name":     {"templatename", "contenttemplatename", "tname", "name"},
	"category": {"communicationtype", "templatecategory", "category", "templatetype", "ttype", "messagetype", "smstype", "type", "contenttype"},
	"headers":  {"headers", "header", "headername", "headernames", "senderid", "senderids", "sender", "cli"},
	"entity":   {"dltentityid", "entityid", "peid", "principalentityid", "eid"},
	"varcount": {"variablecount", "varcount", "noofvariables", "numberofvariables"},
	"status":   {"status", "templatestatus", "approvalstatus"},
}

// Status words that mark a row as not usable; rows with any other status (or none) are read.
var csvSkipStatus = []string{"reject", "inactive", "deactiv", "blacklist", "block", "suspend", "delete", "pending", "expired"}

func normColumn(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

type csvRow struct {
	line int
	t    Template
}

// ReadTemplatesCSV reads templates from a DLT portal export saved as CSV. Columns are found
// by name, tolerating the variants portals use (TEMPLATE_ID, "Template ID", DLT-ID,
// dlt_template_id; TEMPLATE_CONTENT, content, t_content; TEMPLATE_TYPE, communication-type,
// t_type; HEADER, Sender ID; TEMPLATE_NAME; VARIABLE_COUNT; status): case, spaces and
// punctuation in the names do not matter. A UTF-8 byte-order mark is dropped, and the
// delimiter (comma, semicolon or tab) is taken from the header line.
//
// The ID, text and category columns are required. An entity column, if present, must agree
// with entityID; if entityID is "", it supplies the entity. Headers may be listed in one cell
// separated by commas, semicolons, slashes or spaces. Rows whose status says rejected,
// inactive, blocked, suspended, deleted, pending or expired are skipped silently.
//
// Rows that cannot be read are reported together (errors.Join), each naming its line; the
// templates of the good rows are returned in any case. The templates are not compiled.
func ReadTemplatesCSV(r io.Reader, entityID string) ([]Template, error) {
	rows, err := readTemplatesCSV(r, entityID)
	out := make([]Template, len(rows))
	for i, row := range rows {
		out[i] = row.t
	}
	if err != nil {
		return out, fmt.Errorf("dlt: templates CSV: %w", err)
	}
	return out, nil
}

// LoadTemplatesCSV reads a portal export (see ReadTemplatesCSV) and adds its templates. The
// entity and the headers the rows name must already be registered. It returns how many
// templates were added; the error lists every row that was not, by line.
func (r *Registry) LoadTemplatesCSV(rd io.Reader, entityID string) (int, error) {
	rows, err := readTemplatesCSV(rd, entityID)
	errs := []error{err}
	n := 0
	for _, row := range rows {
		if err := r.AddTemplate(row.t); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s", row.line, strings.TrimPrefix(err.Error(), "dlt: ")))
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("dlt: templates CSV: %w", err)
	}
	return n, nil
}

func readTemplatesCSV(r io.Reader, entityID string) ([]csvRow, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = sniffDelimiter(data)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true

	head, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("empty file")
		}
		return nil, fmt.Errorf("header line: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		n := normColumn(h)
		for field, names := range csvColumns {
			for rank, name := range names {
				if n != name {
					continue
				}
				if old, ok := col[field]; !ok || rank < rankOf(csvColumns[field], normColumn(head[old])) {
					col[field] = i
				}
			}
		}
	}
	var missing []string
	for _, f := range []string{"id", "text", "category"} {
		if _, ok := col[f]; !ok {
			missing = append(missing, fmt.Sprintf("%s (e.g. %s)", f, strings.Join(csvColumns[f][:3], ", ")))
		}
	}
	if _, ok := col["entity"]; !ok && entityID == "" {
		missing = append(missing, "entity (no entity ID was given either)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no column for %s; the header line has %q", strings.Join(missing, "; "), head)
	}

	var rows []csvRow
	var errs []error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		get := func(field string) string {
			if i, ok := col[field]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue
		}
		if st := strings.ToLower(get("status")); st != "" && containsAny(st, csvSkipStatus) {
			continue
		}
		t := Template{ID: get("id"), EntityID: entityID, Name: get("name"), Text: get("text")}
		rowErr := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("line %d: template %q: %s", line, t.ID, fmt.Sprintf(format, args...)))
		}
		if e := get("entity"); e != "" {
			if entityID != "" && e != entityID {
				rowErr("entity %s, not %s", e, entityID)
				continue
			}
			t.EntityID = e
		}
		if !ValidID(t.ID) {
			rowErr("template ID is not 1 to %d digits", maxIDLen)
			continue
		}
		cat, err := ParseCategory(get("category"))
		if err != nil {
			rowErr("%s", strings.TrimPrefix(err.Error(), "dlt: "))
			continue
		}
		t.Category = cat
		t.Headers = strings.FieldsFunc(get("headers"), func(r rune) bool {
			return r == ',' || r == ';' || r == '/' || r == '|' || unicode.IsSpace(r)
		})
		p, err := compile(t.Text)
		if err != nil {
			rowErr("%s", err)
			continue
		}
		if vc := get("varcount"); vc != "" {
			if n, err := strconv.Atoi(vc); err == nil && n != len(p.kinds) {
				rowErr("the text has %d variables but the %s column says %d", len(p.kinds), head[col["varcount"]], n)
				continue
			}
		}
		rows = append(rows, csvRow{line: line, t: t})
	}
	return rows, errors.Join(errs...)
}

func rankOf(names []string, n string) int {
	for i, x := range names {
		if x == n {
			return i
		}
	}
	return len(names)
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// sniffDelimiter picks the delimiter that occurs most in the header line (outside quotes):
// comma, semicolon or tab.
func sniffDelimiter(data []byte) rune {
	line, _ := bufio.NewReader(bytes.NewReader(data)).ReadString('\n')
	counts := map[rune]int{}
	inQuote := false
	for _, r := range line {
		switch {
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ',' || r == ';' || r == '\t'):
			counts[r]++
		}
	}
	best := ','
	for _, r := range []rune{';', '\t'} {
		if counts[r] > counts[best] {
			best = r
		}
	}
	return best
}
