package redisstore

// The one codec of queue entries: marshalMsg writes a store.Message as the JSON every queue
// stream, scheduled set, cancel index and quarantine entry holds, decodeMsg reads it back.
// The message's text is sealed (AES-256-GCM) so that no OTP code, nor any other message
// content, rests in Redis in plaintext (docs/security.md, "Data at rest").

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// TextKeySize is the length of a text key: AES-256.
const TextKeySize = 32

// TextKeyInfo is the HKDF info DeriveTextKey derives a text key with.
const TextKeyInfo = "smppd text at rest v1"

// sealVersion starts every sealed text; a later format gets another.
const sealVersion = "v1"

// DeriveTextKey derives a text key from another secret (the OTP key when no text key is
// configured): HKDF-SHA256 with info TextKeyInfo and no salt (the secret is the only input
// the instances share, and every instance must derive the same key).
func DeriveTextKey(secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, errors.New("store: derive text key: empty secret")
	}
	return hkdf.Key(sha256.New, secret, nil, TextKeyInfo, TextKeySize)
}

// TextKeyID names a key in sealed texts and errors: the first 4 bytes of SHA-256 over a
// domain label and the key, in hex. It tells keys apart and reveals nothing usable about
// the key.
func TextKeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("smppd text key id\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// UnknownTextKeyError is returned for a text sealed with a key that is not in the store's
// keyring: an old key dropped too soon, or an instance configured with another key.
type UnknownTextKeyError struct{ KeyID string }

func (e *UnknownTextKeyError) Error() string {
	return fmt.Sprintf("text sealed with key %s, which is not in the keyring (store.text_key, store.text_keys_old)", e.KeyID)
}

// textRing holds the current key (seals and opens) and the older ones (open only). A nil
// ring keeps texts in plaintext (a store made without keys: tests and tools).
type textRing struct {
	cur   string                 // the current key's id
	aeads map[string]cipher.AEAD // key id → AEAD, the current key's included
}

// newTextRing builds the ring; no current key and no old ones give nil (plaintext).
func newTextRing(cur []byte, old [][]byte) (*textRing, error) {
	if len(cur) == 0 {
		if len(old) > 0 {
			return nil, errors.New("store: redis options: TextKeysOld without TextKey")
		}
		return nil, nil
	}
	r := &textRing{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{cur}, old...) {
		if len(k) != TextKeySize {
			name := "TextKey"
			if i > 0 {
				name = fmt.Sprintf("TextKeysOld[%d]", i-1)
			}
			return nil, fmt.Errorf("store: redis options: %s is %d bytes, want %d (AES-256)", name, len(k), TextKeySize)
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		a, err := cipher.NewGCMWithRandomNonce(b)
		if err != nil {
			return nil, err
		}
		id := TextKeyID(k)
		if i == 0 {
			r.cur = id
		}
		if _, dup := r.aeads[id]; !dup {
			r.aeads[id] = a
		}
	}
	return r, nil
}

// seal returns "v1:<key id>:<base64(nonce|ciphertext|tag)>" of text, with the message id as
// additional data: a sealed text opens only on the message it was sealed for.
func (r *textRing) seal(id, text string) string {
	a := r.aeads[r.cur]
	ct := a.Seal(nil, nil, []byte(text), []byte(id))
	var b strings.Builder
	b.Grow(len(sealVersion) + 1 + len(r.cur) + 1 + base64.RawStdEncoding.EncodedLen(len(ct)))
	b.WriteString(sealVersion)
	b.WriteByte(':')
	b.WriteString(r.cur)
	b.WriteByte(':')
	b.WriteString(base64.RawStdEncoding.EncodeToString(ct))
	return b.String()
}

// open reverses seal. r may be nil (a store without keys): every sealed text is then
// sealed with an unknown key.
func (r *textRing) open(id, sealed string) (string, error) {
	v, rest, ok1 := strings.Cut(sealed, ":")
	kid, data, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || v != sealVersion {
		return "", fmt.Errorf("sealed text: unknown format %q", prefix(sealed, 12))
	}
	var a cipher.AEAD
	if r != nil {
		a = r.aeads[kid]
	}
	if a == nil {
		return "", &UnknownTextKeyError{KeyID: kid}
	}
	ct, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil {
		return "", fmt.Errorf("sealed text (key %s): %w", kid, err)
	}
	pt, err := a.Open(nil, nil, ct, []byte(id))
	if err != nil {
		return "", fmt.Errorf("sealed text (key %s): does not open for message %s (altered, or sealed for another message)", kid, id)
	}
	return string(pt), nil
}

// sealField is how a text field goes on the wire: as it is without a ring (plain), sealed
// with one (sealed); an empty text stays empty either way. Every sealed field of the store
// (queue entries' texts, webhook bodies, unmatched receipts' texts) is written through it.
func (r *textRing) sealField(aad, text string) (plain, sealed string) {
	switch {
	case r == nil:
		return text, ""
	case text == "":
		return "", ""
	}
	return "", r.seal(aad, text)
}

// openField reverses sealField: the sealed form when there is one, else the plain one
// (written without a ring, or before sealing).
func (r *textRing) openField(aad, plain, sealed string) (string, error) {
	if sealed == "" {
		return plain, nil
	}
	return r.open(aad, sealed)
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// wireMsg is a Message as stored: its Text field shadows the message's (Go's JSON takes
// the shallower of two fields of one name), so that "text" is written only by a store
// without keys, and "sealed" carries the text otherwise. Entries written before sealing
// have "text": they still decode.
type wireMsg struct {
	store.Message
	Text   string `json:"text,omitempty"`
	Sealed string `json:"sealed,omitempty"`
}

// marshalMsg encodes m for the queue: the one writer of a queue entry.
func (s *Store) marshalMsg(m *store.Message) (string, error) {
	w := wireMsg{Message: *m}
	w.Text, w.Sealed = s.text.sealField(m.ID, m.Text)
	w.Message.Text = ""
	b, err := json.Marshal(&w)
	if err != nil {
		return "", fmt.Errorf("message %s: %w", m.ID, err)
	}
	return string(b), nil
}

// decodeMsg decodes a queue entry: the one reader. A text sealed with a key the ring lacks
// is an *UnknownTextKeyError (the entry is quarantined with that reason, see decode).
func (s *Store) decodeMsg(body string) (*store.Message, error) {
	if body == "" {
		return nil, errors.New("entry without message")
	}
	var w wireMsg
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		return nil, err
	}
	m := &w.Message
	t, err := s.text.openField(m.ID, w.Text, w.Sealed)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", m.ID, err)
	}
	m.Text = t
	if err := valid.Message(m); err != nil {
		return nil, err
	}
	return m, nil
}

// sealRaw returns a quarantined entry's body fit to keep: an entry that parses as a message
// and has a plaintext text gets it sealed (its id as the additional data); anything else
// that does not parse is sealed whole under the entry id, as {"sealed_raw": …}. Without
// keys, body is kept as it is.
func (s *Store) sealRaw(entryID, body string) string {
	if s.text == nil || body == "" {
		return body
	}
	var w wireMsg
	if err := json.Unmarshal([]byte(body), &w); err == nil {
		if w.Text == "" && w.Message.Text == "" {
			return body // sealed already, or no text
		}
		w.Sealed = s.text.seal(w.ID, w.Text)
		w.Text, w.Message.Text = "", ""
		if b, err := json.Marshal(&w); err == nil {
			return string(b)
		}
	}
	b, _ := json.Marshal(map[string]string{"sealed_raw": s.text.seal(entryID, body)})
	return string(b)
}

// wireJob is a webhook job as stored: its body (a delivery report: phone number, callback
// values; or an MO: a subscriber's words) is sealed like message texts, with "wh:" and the
// job id as the additional data. Jobs written before sealing have "body": they still decode.
type wireJob struct {
	store.WebhookJob
	Body       string `json:"body,omitempty"`
	SealedBody string `json:"sealed_body,omitempty"`
}

func jobAAD(id string) string { return "wh:" + id }

// marshalJob encodes a webhook job for its queue, retry set or dead letters: the one writer.
func (s *Store) marshalJob(j *store.WebhookJob) ([]byte, error) {
	if j == nil || j.ID == "" || j.URL == "" {
		return nil, errors.New("webhook job without id or url")
	}
	w := wireJob{WebhookJob: *j}
	w.Body, w.SealedBody = s.text.sealField(jobAAD(j.ID), j.Body)
	w.WebhookJob.Body = ""
	b, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("webhook job %s: %w", j.ID, err)
	}
	return b, nil
}

// unmarshalJob decodes what marshalJob wrote (or a job written before sealing).
func (s *Store) unmarshalJob(b []byte) (*store.WebhookJob, error) {
	var w wireJob
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	j := &w.WebhookJob
	body, err := s.text.openField(jobAAD(j.ID), w.Body, w.SealedBody)
	if err != nil {
		return nil, fmt.Errorf("webhook job %s: %w", j.ID, err)
	}
	j.Body = body
	return j, nil
}
