package api

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/smppd/smppd/dlt"
)

// reply is the 2Factor envelope. Every value is a string: clients parse it with strict
// struct decoders and with Python's ast.literal_eval. OTP is only set on AUTOGEN2; the
// delivery fields only on TRANS_SMS_DLR.
type reply struct {
	Status         string `json:"Status"`
	Details        string `json:"Details"`
	OTP            string `json:"OTP,omitempty"`
	DeliveryStatus string `json:"DeliveryStatus,omitempty"`
	SentAt         string `json:"SentAt,omitempty"`
	DeliveredAt    string `json:"DeliveredAt,omitempty"`
}

func success(details string) reply { return reply{Status: "Success", Details: details} }

// apiError is an error reply: the HTTP status and the Details text, and for Accept the
// refusal's class and DLT code (zero: RefusedInvalid, no code).
type apiError struct {
	code    int
	details string
	reason  RefusalReason
	dltCode dlt.Code
	// retryAfter, on a 429, is when the client may try again (the Retry-After header).
	retryAfter time.Duration
}

// refuse is a message-level refusal (msgErr) of a known class.
func refuse(r RefusalReason, details string) *apiError {
	e := msgErr(details)
	e.reason = r
	return e
}

// dltErr is a message-level refusal by the DLT rules, with the code a carrier would answer.
func dltErr(code dlt.Code, details string) *apiError {
	e := refuse(RefusedDLT, details)
	e.dltCode = code
	return e
}

// unavailable is the reply to a store or dispatcher failure: the client may retry.
func unavailable() *apiError {
	e := errorf(http.StatusInternalServerError, msgInternal)
	e.reason = RefusedUnavailable
	return e
}

// refusal is the error as Accept returns it.
func (e *apiError) refusal() *Refusal {
	r := &Refusal{Reason: e.reason, DLTCode: e.dltCode, Detail: e.details}
	if r.Reason == 0 {
		r.Reason = RefusedInvalid
	}
	return r
}

func (e *apiError) Error() string { return e.details }

func errorf(code int, details string) *apiError { return &apiError{code: code, details: details} }

func marshalReply(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

func writeReply(w http.ResponseWriter, code int, v any) {
	writeRaw(w, code, "application/json; charset=utf-8", marshalReply(v))
}

func writeRaw(w http.ResponseWriter, code int, ctype string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	setRetryAfter(w, e)
	writeReply(w, e.code, reply{Status: "Error", Details: e.details})
}

// setRetryAfter gives a 429 its Retry-After: whole seconds, rounded up, at least 1.
func setRetryAfter(w http.ResponseWriter, e *apiError) {
	if e.code != http.StatusTooManyRequests {
		return
	}
	secs := max(1, int64(math.Ceil(e.retryAfter.Seconds())))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}

// Reply texts. The first group is what real 2Factor clients match on (twofactor-api.md §2);
// the others are smppd's, chosen to read like them.
const (
	msgOTPMatched       = "OTP Matched"
	msgOTPMismatch      = "OTP Mismatch"
	msgOTPExpired       = "OTP Expired"
	msgNoSession        = "Invalid API / SessionId Combination - No Entry Exists"
	msgNoPhoneSession   = "Invalid API / Phone Number Combination - No Entry Exists"
	msgPhoneLength      = "Invalid Phone Number - Length Mismatch(Expected: 10)"
	msgPhoneNotDigits   = "Invalid Phone Number - it contains characters other than digits: "
	msgInvalidKey       = "Invalid API Key - No Account Exists"
	msgDisabled         = "Access Denied - Account Disabled"
	msgExpired          = "Access Denied - Account Expired"
	msgLowBalance       = "Access Denied - Balance is too low"
	msgInvalidTemplate  = "Invalid Template"
	msgMissingModule    = "Missing module name"
	msgOTPLocked        = "OTP Expired - Too Many Attempts"
	msgIPNotAllowed     = "Access Denied - IP Address Not Allowed"
	msgRateLimited      = "Rate limit exceeded"
	msgNotIndian        = "Invalid Phone Number - Not An Indian Mobile Number"
	msgNoRoute          = "Invalid Phone Number - No Route To This Number"
	msgInvalidOTPValue  = "Invalid OTP Value - Expected 4 to 6 Digits"
	msgSendLimit        = "Too Many OTPs Sent To This Phone Number - Try Again Later"
	msgNotSandbox       = "Sandbox Mode Is Not Enabled For This Account"
	msgInternal         = "Internal Error - Please Retry"
	msgBodyTooLarge     = "Request Body Too Large"
	msgInvalidService   = "Invalid Service Name"
	msgOTPUnavailable   = "OTP Service Is Not Configured"
	msgNoRecords        = "No records found for the specified filters"
	msgOneRecord        = "1 record found for the specified filters"
	msgMethodNotAllowed = "HTTP GET is not supported on this endpoint"
	msgNoEndpoint       = "Invalid URL - no such API endpoint"
)
