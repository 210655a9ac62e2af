package passwd

import (
	"errors"
	"testing"
)

func TestHashAndCheck(t *testing.T) {
	h, err := HashIter("correct horse", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Check(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := Check(h, "correct horse!"); ok {
		t.Fatal("wrong password accepted")
	}
	if h2, _ := HashIter("correct horse", 1000); h2 == h {
		t.Fatal("same salt twice")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$x$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "pbkdf2-sha256$1000$QQ$AAAAAAAAAAAAAAAAAAAAAA", "bcrypt$1$2$3"} {
		if ok, err := Check(bad, "x"); ok || !errors.Is(err, ErrBadHash) {
			t.Errorf("%q: %v %v", bad, ok, err)
		}
	}
	if Dummy().Check("") {
		t.Fatal("the dummy hash matched")
	}
}
