package dlt

import "testing"

// Vectors from dlt-smpp.md §1.3 (Karix/Scribd sample IDs, hashed with sha256sum).
func TestChainHash(t *testing.T) {
	const pe, af1, af2, td = "1101172974420810001", "1101172974420820002", "1101172974420820003", "1101172974420830004"
	tests := []struct {
		tm   []string
		want string
	}{
		{[]string{td}, "c0c951afca257c5b87c3da535c09112080483f35b7e6faf35e2428b3b526b694"},
		{[]string{af1, td}, "ba38bbe4ab3780a70aad6071c006e720eed8efc1ff70b00691d3b6844e6497e2"},
		{[]string{af1, af2, td}, "d3133e436040034d9e95932ea93a1f82c37e1d98803229f835d8f3124e77e07f"},
	}
	for _, tt := range tests {
		if got := ChainHash(pe, tt.tm...); got != tt.want {
			t.Errorf("ChainHash(%s, %v) = %s, want %s", pe, tt.tm, got, tt.want)
		}
		c := Chain{PEID: pe, TMAF: tt.tm[:len(tt.tm)-1], TMD: tt.tm[len(tt.tm)-1]}
		if got := c.Hash(); got != tt.want {
			t.Errorf("%v.Hash() = %s, want %s", c, got, tt.want)
		}
	}
	if s := (Chain{PEID: pe, TMAF: []string{af1}, TMD: td}).String(); s != pe+","+af1+","+td {
		t.Errorf("Chain.String() = %q", s)
	}
}
