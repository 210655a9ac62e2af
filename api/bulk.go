package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/store"
)

// Bulk replies: their own shape, per the document (success is a JSON boolean).

type bulkReply struct {
	Success        bool          `json:"success"`
	RequestID      string        `json:"requestId"`
	MessageCount   int           `json:"messageCount"`
	Timestamp      string        `json:"timestamp"`
	ProcessingTime int64         `json:"processingTime"`
	QueueStats     bulkQueue     `json:"queueStats"`
	Messages       []bulkMessage `json:"messages"`
}

type bulkQueue struct {
	Success          bool `json:"success"`
	TotalChunks      int  `json:"totalChunks"`
	SuccessfulChunks int  `json:"successfulChunks"`
	FailedChunks     int  `json:"failedChunks"`
}

type bulkMessage struct {
	Index     int    `json:"index"`
	SmsTo     string `json:"smsTo"`
	Status    string `json:"status"` // accepted or rejected
	SessionID string `json:"sessionId,omitempty"`
	Error     string `json:"error,omitempty"`
}

type bulkError struct {
	Success   bool         `json:"success"`
	RequestID string       `json:"requestId"`
	Error     string       `json:"error"`
	ErrorType string       `json:"errorType"`
	Details   []bulkDetail `json:"details"`
	Timestamp string       `json:"timestamp"`
}

type bulkDetail struct {
	Index   *int   `json:"index,omitempty"`
	Field   string `json:"field,omitempty"`
	Error   string `json:"error"`
	Details string `json:"details,omitempty"`
}

func bulkTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func writeBulkError(w http.ResponseWriter, code int, reqID, errText, errType string, details ...bulkDetail) {
	writeReply(w, code, bulkError{Success: false, RequestID: reqID, Error: errText, ErrorType: errType,
		Details: details, Timestamp: bulkTime(time.Now())})
}

// bulk serves POST /API/R1/Bulk/.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, _ vars) {
	start := time.Now()
	reqID := store.NewID()
	body, err := io.ReadAll(bodyLimit(w, r.Body, s.o.MaxBulkBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeBulkError(w, http.StatusRequestEntityTooLarge, reqID, "Validation failed", "ValidationError",
				bulkDetail{Error: "Request body is larger than " + strconv.FormatInt(s.o.MaxBulkBytes, 10) + " bytes"})
			return
		}
		writeBulkError(w, http.StatusBadRequest, reqID, "Validation failed", "ValidationError", bulkDetail{Error: "Failed to read the request body"})
		return
	}
	var req struct {
		Module   string                       `json:"module"`
		APIKey   string                       `json:"apikey"`
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeBulkError(w, http.StatusBadRequest, reqID, "Validation failed", "ValidationError",
			bulkDetail{Error: "Failed to parse request body as JSON", Details: err.Error()})
		return
	}
	a, e := s.authenticate(w, r, req.APIKey)
	if e != nil {
		d := e.details
		if e.details == msgInvalidKey {
			d = "Invalid API Key Or TRANSACTIONAL_SMS Service Is Inactive"
		}
		setRetryAfter(w, e)
		writeBulkError(w, e.code, reqID, "Validation failed", "ValidationError", bulkDetail{Field: "apikey", Error: d})
		return
	}
	switch {
	case req.Module != "TRANS_SMS":
		writeBulkError(w, http.StatusBadRequest, reqID, "Validation failed", "ValidationError", bulkDetail{Field: "module", Error: `Module must be "TRANS_SMS"`})
		return
	case len(req.Messages) == 0:
		writeBulkError(w, http.StatusBadRequest, reqID, "Validation failed", "ValidationError", bulkDetail{Field: "messages", Error: "At least one message is required"})
		return
	case len(req.Messages) > MaxBulkMessages:
		writeBulkError(w, http.StatusBadRequest, reqID, "Validation failed", "ValidationError",
			bulkDetail{Field: "messages", Error: "At most " + strconv.Itoa(MaxBulkMessages) + " messages per request; got " + strconv.Itoa(len(req.Messages))})
		return
	}
	now := s.o.Now()
	out := make([]bulkMessage, len(req.Messages))
	var bs []*built
	var rejected []bulkDetail
	for i, raw := range req.Messages {
		get := func(k string) string { v, _ := scalar(raw[k]); return strings.TrimSpace(v) }
		to, from, txt := get("smsTo"), get("smsFrom"), get("smsText")
		out[i] = bulkMessage{Index: i, SmsTo: to}
		field, reason := "", ""
		phone, pe := normalisePhone(to)
		switch {
		case from == "":
			field, reason = "smsFrom", "smsFrom is required"
		case to == "":
			field, reason = "smsTo", "smsTo is required"
		case pe != nil:
			field, reason = "smsTo", pe.details
		case txt == "":
			field, reason = "smsText", "smsText is required"
		case utf8.RuneCountInString(txt) > MaxTextRunes:
			field, reason = "smsText", "Message length must not exceed 1000 characters"
		}
		var b *built
		if reason == "" {
			mode := "json"
			if f := strings.ToLower(get("callback_format")); f == "form" || f == "urlencoded" {
				mode = "form"
			}
			meta := map[string]string{"callback_value1": get("callback_value1"), "callback_value2": get("callback_value2")}
			if a.WebhookURL != "" {
				meta[dlr.MetaWebhookMode] = mode
			}
			var be *apiError
			b, be = s.build(a, spec{kind: kindTrans, to: phone, from: from, text: txt, meta: meta, links: linkParams(get)}, now)
			if be != nil {
				field, reason = "smsText", be.details
			}
		}
		if reason != "" {
			idx := i
			rejected = append(rejected, bulkDetail{Index: &idx, Field: field, Error: reason})
			out[i].Status, out[i].Error = "rejected", reason
			continue
		}
		b.msg.ID = reqID + "-" + strconv.Itoa(i+1)
		out[i].Status, out[i].SessionID = "accepted", b.msg.ID
		bs = append(bs, b)
	}
	if len(bs) == 0 {
		writeBulkError(w, http.StatusBadRequest, reqID, "Validation failed", "ValidationError", rejected...)
		return
	}
	if !a.Sandbox {
		if e := s.commit(r.Context(), a, bs); e != nil {
			if e.details == msgLowBalance {
				writeBulkError(w, http.StatusBadRequest, reqID, "Insufficient balance", "BalanceError", bulkDetail{Field: "apikey", Error: msgLowBalance})
			} else {
				writeBulkError(w, e.code, reqID, "Unexpected error", "UnexpectedError", bulkDetail{Error: e.details})
			}
			return
		}
	}
	writeReply(w, http.StatusOK, bulkReply{
		Success: true, RequestID: reqID, MessageCount: len(bs), Timestamp: bulkTime(start),
		ProcessingTime: time.Since(start).Milliseconds(),
		QueueStats:     bulkQueue{Success: true, TotalChunks: 1, SuccessfulChunks: 1},
		Messages:       out,
	})
}
