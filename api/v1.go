package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/otp"
	"github.com/smppd/smppd/store"
)

// writeV1Error answers a V1 error: message-level refusals become 400 like every other V1
// error (2Factor answers OTP errors with 400 and the envelope).
func writeV1Error(w http.ResponseWriter, e *apiError) {
	if e.code == http.StatusOK {
		e = errorf(http.StatusBadRequest, e.details)
	}
	writeError(w, e)
}

// v1Auth authenticates the key of a V1 path; on failure it has answered.
func (s *Server) v1Auth(w http.ResponseWriter, r *http.Request, v vars) *account {
	a, e := s.authenticate(w, r, v["api_key"])
	if e != nil {
		writeV1Error(w, e)
	}
	return a
}

const sandboxSession, sandboxOTP = "Dummy-12345", "12345"

// v1SendOTP serves /SMS/{phone}/AUTOGEN… and the custom OTP form (mode "").
func (s *Server) v1SendOTP(mode string) func(http.ResponseWriter, *http.Request, vars) {
	digits := 6
	if mode == "AUTOGEN3" {
		digits = 4
	}
	sandboxMode := strings.HasPrefix(mode, "AUTOGEND")
	withOTP := mode == "AUTOGEN2" || mode == "AUTOGEND2"
	return func(w http.ResponseWriter, r *http.Request, v vars) {
		a := s.v1Auth(w, r, v)
		if a == nil {
			return
		}
		phone, e := normalisePhone(v["phone_number"])
		if e != nil {
			writeV1Error(w, e)
			return
		}
		if a.Sandbox {
			// 2Factor sandbox: a random session id (and OTP) and nothing sent.
			rep := success(store.NewID())
			if withOTP {
				rep.OTP, _ = otp.NewCode(6)
			}
			writeReply(w, http.StatusOK, rep)
			return
		}
		if sandboxMode {
			writeV1Error(w, errorf(http.StatusBadRequest, msgNotSandbox))
			return
		}
		code := ""
		if mode == "" {
			code = v["otp"]
			if !otp.ValidCode(code) {
				writeV1Error(w, errorf(http.StatusBadRequest, msgInvalidOTPValue))
				return
			}
		}
		id, code, e := s.sendOTP(r, a, phone, code, digits, v["otp_template_name"])
		if e != nil {
			writeV1Error(w, e)
			return
		}
		rep := success(id)
		if withOTP {
			rep.OTP = code
		}
		writeReply(w, http.StatusOK, rep)
	}
}

// sendOTP creates a session and sends its code; shared by V1 and R1 SMS_OTP. code "" means
// a random one of digits. The returned error carries 200 for message-level refusals.
func (s *Server) sendOTP(r *http.Request, a *account, phone, code string, digits int, template string) (string, string, *apiError) {
	if s.o.OTP == nil {
		return "", "", errorf(http.StatusServiceUnavailable, msgOTPUnavailable)
	}
	ctx := r.Context()
	if code == "" {
		var err error
		if code, err = otp.NewCode(digits); err != nil {
			return "", "", errorf(http.StatusInternalServerError, msgInternal)
		}
	}
	now := s.o.Now()
	b, e := s.build(a, spec{kind: kindOTP, to: phone, template: template, otpCode: code}, now)
	if e != nil {
		return "", "", e
	}
	sess, _, err := s.o.OTP.Generate(ctx, otp.Request{Account: a.Name, Phone: phone, Code: code, Expiry: a.OTPExpiry})
	switch {
	case errors.Is(err, otp.ErrSendLimit):
		// The count lives in a fixed window of SendWindow that began with an earlier send:
		// it ends within SendWindow, the Retry-After given (at the latest).
		e := errorf(http.StatusTooManyRequests, msgSendLimit)
		e.retryAfter = s.o.OTP.Options().SendWindow
		return "", "", e
	case errors.Is(err, otp.ErrInvalidCode):
		return "", "", errorf(http.StatusBadRequest, msgInvalidOTPValue)
	case err != nil:
		s.o.Logger.Error().Err(err).Str("account", a.Name).Str("to", msisdn.Mask(phone)).Msg("creating an OTP session failed")
		return "", "", errorf(http.StatusInternalServerError, msgInternal)
	}
	b.msg.ID = sess.ID
	if e := s.commit(ctx, a, []*built{b}); e != nil {
		if err := s.o.OTP.Cancel(ctx, a.Name, sess.ID); err != nil {
			s.o.Logger.Error().Err(err).Str("account", a.Name).Msg("cancelling an unsent OTP session failed")
		}
		return "", "", e
	}
	return sess.ID, code, nil
}

// v1Verify serves VERIFY and VERIFY2 (session id + OTP).
func (s *Server) v1Verify(which string) func(http.ResponseWriter, *http.Request, vars) {
	return func(w http.ResponseWriter, r *http.Request, v vars) {
		a := s.v1Auth(w, r, v)
		if a == nil {
			return
		}
		if a.Sandbox {
			// Sandbox: only Dummy-12345/12345 on VERIFY matches; VERIFY2 always mismatches;
			// every sandbox answer is HTTP 200.
			if which == "VERIFY" && v["session_id"] == sandboxSession && v["otp"] == sandboxOTP {
				writeReply(w, http.StatusOK, success(msgOTPMatched))
			} else {
				writeReply(w, http.StatusOK, reply{Status: "Error", Details: msgOTPMismatch})
			}
			return
		}
		if s.o.OTP == nil {
			writeV1Error(w, errorf(http.StatusServiceUnavailable, msgOTPUnavailable))
			return
		}
		s.verifyReply(w, a, s.o.OTP.Verify(r.Context(), a.Name, v["session_id"], v["otp"]), msgNoSession)
	}
}

// v1Verify3 serves VERIFY3 (phone + OTP): the phone's latest session.
func (s *Server) v1Verify3(w http.ResponseWriter, r *http.Request, v vars) {
	a := s.v1Auth(w, r, v)
	if a == nil {
		return
	}
	phone, e := normalisePhone(v["phone_number"])
	if e != nil {
		writeV1Error(w, e)
		return
	}
	if a.Sandbox {
		writeReply(w, http.StatusOK, reply{Status: "Error", Details: msgOTPMismatch})
		return
	}
	if s.o.OTP == nil {
		writeV1Error(w, errorf(http.StatusServiceUnavailable, msgOTPUnavailable))
		return
	}
	s.verifyReply(w, a, s.o.OTP.VerifyPhone(r.Context(), a.Name, phone, v["otp"]), msgNoPhoneSession)
}

func (s *Server) verifyReply(w http.ResponseWriter, a *account, err error, notFound string) {
	switch {
	case err == nil:
		writeReply(w, http.StatusOK, success(msgOTPMatched))
	case errors.Is(err, otp.ErrMismatch):
		writeV1Error(w, errorf(http.StatusBadRequest, msgOTPMismatch))
	case errors.Is(err, otp.ErrExpired), errors.Is(err, otp.ErrUsed):
		if a.LegacyExpiredSuccess {
			writeReply(w, http.StatusOK, success(msgOTPExpired))
		} else {
			writeV1Error(w, errorf(http.StatusBadRequest, msgOTPExpired))
		}
	case errors.Is(err, otp.ErrLocked):
		writeV1Error(w, errorf(http.StatusBadRequest, msgOTPLocked))
	case errors.Is(err, otp.ErrNotFound):
		writeV1Error(w, errorf(http.StatusBadRequest, notFound))
	default:
		s.o.Logger.Error().Err(err).Str("account", a.Name).Msg("verifying an OTP failed")
		writeV1Error(w, errorf(http.StatusInternalServerError, msgInternal))
	}
}

// v1Balance serves BAL/SMS (addon false) and ADDON_SERVICES/BAL/TRANSACTIONAL_SMS and
// PROMOTIONAL_SMS (addon true). Details is the balance in segments as a string; "-1" means
// unlimited.
func (s *Server) v1Balance(addon bool) func(http.ResponseWriter, *http.Request, vars) {
	return func(w http.ResponseWriter, r *http.Request, v vars) {
		a := s.v1Auth(w, r, v)
		if a == nil {
			return
		}
		svc := strings.ToUpper(v["service_name"])
		var cat store.CreditCategory
		switch {
		case !addon && svc == "SMS", addon && svc == "TRANSACTIONAL_SMS":
			cat = store.CreditsTransactional
		case addon && svc == "PROMOTIONAL_SMS":
			cat = store.CreditsPromotional
		default:
			writeV1Error(w, errorf(http.StatusBadRequest, msgInvalidService))
			return
		}
		n := int64(-1)
		if s.o.Credits != nil {
			var err error
			if n, _, err = s.o.Credits.GetCredits(r.Context(), a.Name, cat); err != nil {
				s.o.Logger.Error().Err(err).Str("account", a.Name).Msg("reading credits failed")
				writeV1Error(w, errorf(http.StatusInternalServerError, msgInternal))
				return
			}
		}
		writeReply(w, http.StatusOK, success(strconv.FormatInt(n, 10)))
	}
}

// v1Legacy serves ADDON_SERVICES/SEND/TSMS and PSMS: From, To (comma list), Msg or
// TemplateName with VAR1…VARn, optional SendAt.
func (s *Server) v1Legacy(k kind) func(http.ResponseWriter, *http.Request, vars) {
	return func(w http.ResponseWriter, r *http.Request, v vars) {
		a := s.v1Auth(w, r, v)
		if a == nil {
			return
		}
		p, err := readParams(w, r, s.o.MaxBodyBytes)
		if err != nil {
			writeV1Error(w, bodyError(err))
			return
		}
		id, e := s.sendMany(r, a, k, p, sendFields{to: "to", from: "from", msg: "msg", template: "templatename", sendAt: "sendat", names: &v1LegacyNames, links: true})
		if e != nil {
			writeV1Error(w, e)
			return
		}
		writeReply(w, http.StatusOK, success(id))
	}
}

func bodyError(err error) *apiError {
	if errors.Is(err, errBodyTooLarge) {
		return errorf(http.StatusRequestEntityTooLarge, msgBodyTooLarge)
	}
	return errorf(http.StatusBadRequest, "Invalid request body - "+err.Error())
}
