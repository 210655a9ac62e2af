package api

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
)

// The encrypted module (POST /API/R1?module=ENC&encmode=GCM|CBC). 2Factor's document names
// AES-256 in GCM and CBC modes and a Secret-Key header and leaves the scheme open; smppd's
// scheme (docs/api.md has a worked example with openssl and Go):
//
//   - Each account has a 32-byte secret K, given to the client out of band. K never travels.
//   - The Secret-Key header carries the key id: the first 32 hex digits of
//     HMAC-SHA256(K, "smppd enc key id"). It names the key without revealing it.
//   - GCM: AES-256-GCM with key K, a random 12-byte nonce, no additional data; the payload
//     is base64(nonce || ciphertext || 16-byte tag).
//   - CBC: encrypt-then-MAC with two keys derived from K: Kenc = HMAC-SHA256(K, "smppd enc
//     cbc aes"), Kmac = HMAC-SHA256(K, "smppd enc cbc hmac"). AES-256-CBC with Kenc, a random
//     16-byte IV and PKCS#7 padding; tag = HMAC-SHA256(Kmac, IV || ciphertext); the payload
//     is base64(IV || ciphertext || tag). The tag is checked (in constant time) before
//     anything is decrypted, so there is no padding oracle.
//   - The plaintext is the JSON request ({"module":"TRANS_SMS","apikey":…}); the apikey must
//     belong to the account that owns K. Success replies are encrypted the same way (fresh
//     nonce or IV) and sent as text/plain base64; errors are plain JSON.

// Encryption modes of the ENC module.
const (
	EncGCM = "GCM"
	EncCBC = "CBC"
)

var errDecrypt = errors.New("decryption failed")

// EncKeyID is the key id a client sends in the Secret-Key header for the 32-byte key.
func EncKeyID(key []byte) string {
	return hex.EncodeToString(hmacSHA256(key, []byte("smppd enc key id")))[:32]
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func cbcKeys(key []byte) (encKey, macKey []byte) {
	return hmacSHA256(key, []byte("smppd enc cbc aes")), hmacSHA256(key, []byte("smppd enc cbc hmac"))
}

// Encrypt seals plaintext for the ENC module in mode (EncGCM or EncCBC) under the 32-byte
// key and returns the base64 payload.
func Encrypt(mode string, key, plaintext []byte) (string, error) {
	if len(key) != 32 {
		return "", errors.New("api: ENC key must be 32 bytes")
	}
	var out []byte
	switch mode {
	case EncGCM:
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		nonce := make([]byte, aead.NonceSize())
		if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
			return "", err
		}
		out = aead.Seal(nonce, nonce, plaintext, nil)
	case EncCBC:
		ek, mk := cbcKeys(key)
		block, _ := aes.NewCipher(ek)
		iv := make([]byte, aes.BlockSize)
		if _, err := io.ReadFull(rand.Reader, iv); err != nil {
			return "", err
		}
		pad := aes.BlockSize - len(plaintext)%aes.BlockSize
		padded := append(append([]byte(nil), plaintext...), bytes.Repeat([]byte{byte(pad)}, pad)...)
		ct := make([]byte, len(padded))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
		out = append(append(iv, ct...), hmacSHA256(mk, iv, ct)...)
	default:
		return "", errors.New("api: unknown ENC mode " + mode)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt opens a base64 ENC payload.
func Decrypt(mode string, key []byte, payload string) ([]byte, error) {
	raw, err := decodeBase64(strings.TrimSpace(payload))
	if err != nil || len(key) != 32 {
		return nil, errDecrypt
	}
	switch mode {
	case EncGCM:
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		if len(raw) < aead.NonceSize()+aead.Overhead() {
			return nil, errDecrypt
		}
		pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
		if err != nil {
			return nil, errDecrypt
		}
		return pt, nil
	case EncCBC:
		ek, mk := cbcKeys(key)
		if len(raw) < 2*aes.BlockSize+sha256.Size || (len(raw)-sha256.Size)%aes.BlockSize != 0 {
			return nil, errDecrypt
		}
		iv, ct, tag := raw[:aes.BlockSize], raw[aes.BlockSize:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
		if !hmac.Equal(tag, hmacSHA256(mk, iv, ct)) {
			return nil, errDecrypt
		}
		block, _ := aes.NewCipher(ek)
		pt := make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
		pad := int(pt[len(pt)-1])
		if pad < 1 || pad > aes.BlockSize {
			return nil, errDecrypt
		}
		for _, b := range pt[len(pt)-pad:] {
			if int(b) != pad {
				return nil, errDecrypt
			}
		}
		return pt[:len(pt)-pad], nil
	}
	return nil, errDecrypt
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errDecrypt
}

// enc serves module=ENC: it decrypts the payload, runs TRANS_SMS or TRANS_SMS_DLR, and
// encrypts a successful reply.
func (s *Server) enc(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, errorf(http.StatusBadRequest, msgMethodNotAllowed))
		return
	}
	mode := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("encmode")))
	if mode == "" {
		mode = EncCBC // the document's default
	}
	if mode != EncGCM && mode != EncCBC {
		writeError(w, errorf(http.StatusBadRequest, "Invalid encmode - use GCM or CBC"))
		return
	}
	kid := strings.TrimSpace(r.Header.Get("Secret-Key"))
	if kid == "" {
		writeError(w, errorf(http.StatusBadRequest, "Secret-Key is missing in the request header"))
		return
	}
	ea := s.encKeys[strings.ToLower(kid)]
	if ea == nil {
		writeError(w, errorf(http.StatusBadRequest, "Invalid Secret-Key - no encryption key has this id"))
		return
	}
	body, err := io.ReadAll(bodyLimit(w, r.Body, s.o.MaxBodyBytes))
	if err != nil {
		writeError(w, bodyError(errBodyTooLarge))
		return
	}
	pt, err := Decrypt(mode, ea.EncKey, string(body))
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "Decryption failed - the body must be the Base64 "+mode+" payload made with the key named by Secret-Key"))
		return
	}
	m, err := parseJSONish(bytes.TrimSpace(pt))
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "Decryption succeeded but the payload is not a JSON object"))
		return
	}
	p := params{}
	for k, v := range m {
		p[strings.ToLower(k)] = v
	}
	module := strings.ToUpper(p.get("module"))
	switch module {
	case "":
		writeError(w, errorf(http.StatusBadRequest, msgMissingModule))
		return
	case "TRANS_SMS", "TRANS_SMS_DLR":
	default:
		writeError(w, errorf(http.StatusBadRequest, "Invalid module name - ENC carries TRANS_SMS or TRANS_SMS_DLR"))
		return
	}
	a, e := s.authenticate(w, r, p.get("apikey"))
	if e == nil && a != ea {
		e = errorf(http.StatusBadRequest, msgInvalidKey)
	}
	if e != nil {
		writeError(w, e)
		return
	}
	rep, e := s.r1Module(r, a, module, p)
	if e != nil {
		writeError(w, e)
		return
	}
	out, err := Encrypt(mode, a.EncKey, marshalReply(rep))
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, msgInternal))
		return
	}
	writeRaw(w, http.StatusOK, "text/plain; charset=utf-8", []byte(out))
}
