package ingest

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

// Patterns of identifying tokens in names. They are deliberately broad: a
// false alarm costs a look, a miss leaks a movement log.
var (
	reIP     = regexp.MustCompile(`(^|[^0-9])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}([^0-9]|$)`)
	reMAC    = regexp.MustCompile(`(?i)(^|[^0-9a-f])(?:[0-9a-f]{2}(?:[:\-][0-9a-f]{2}){5}|[0-9a-f]{12})([^0-9a-f]|$)`)
	reDigits = regexp.MustCompile(`\d{6,}`)
	reDate   = regexp.MustCompile(`(19|20)\d\d[-_./]?(0[1-9]|1[0-2])[-_./]?(0[1-9]|[12]\d|3[01])`)
	reTime   = regexp.MustCompile(`(^|[^0-9])([01]\d|2[0-3])[-_:.h]?[0-5]\d[-_:.m]?[0-5]\d([^0-9]|$)`)
	reSerial = regexp.MustCompile(`^(?:[A-Za-z]{1,4}\d{8,}|\d{9,}[A-Za-z]{1,4}|SN[-_]?[A-Z0-9]{6,}|DS-[A-Z0-9-]+)$`)
	reCamera = regexp.MustCompile(`(?i)^(?:cam(?:era)?[-_]?\d+|ch(?:annel)?[-_]?\d+)$`)
	rePlate  = regexp.MustCompile(`^[A-Z0-9]{4,9}$`)
	reSplit  = regexp.MustCompile(`[\s_\-./\\]+`)
)

// Identifiers lists the kinds of identifying tokens in a file name or
// path: "time", "plate", "ip", "mac", "serial", "camera". It is used to
// derive nothing from them, only to report their presence.
func Identifiers(name string) []string {
	found := map[string]bool{}
	if reIP.MatchString(name) {
		found["ip"] = true
	}
	if reMAC.MatchString(name) {
		found["mac"] = true
	}
	if reDate.MatchString(name) || hasTimestamp(name) {
		found["time"] = true
	}
	for _, tok := range reSplit.Split(name, -1) {
		stem := strings.TrimSuffix(strings.TrimSuffix(tok, ".jpg"), ".jpeg")
		switch {
		case stem == "":
		case reCamera.MatchString(stem):
			found["camera"] = true
		case reSerial.MatchString(stem):
			found["serial"] = true
		case plateLike(stem):
			found["plate"] = true
		}
	}
	out := make([]string, 0, len(found))
	for k := range found {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hasTimestamp reports a digit run that reads as a date and time.
func hasTimestamp(s string) bool {
	for _, d := range reDigits.FindAllString(s, -1) {
		if len(d) >= 8 {
			if _, err := time.Parse("20060102", d[:8]); err == nil && (d[:2] == "19" || d[:2] == "20") {
				return true
			}
		}
	}
	return reTime.MatchString(s) && reDate.MatchString(s)
}

// plateLike is a token that mixes capital letters and digits the way plates
// do (AB12CDE, N74DYX, 7ABC123), including lower-case forms.
func plateLike(tok string) bool {
	up := strings.ToUpper(tok)
	if !rePlate.MatchString(up) {
		return false
	}
	letters, digits := 0, 0
	for _, r := range up {
		if r >= '0' && r <= '9' {
			digits++
		} else {
			letters++
		}
	}
	return letters >= 1 && digits >= 1 && letters <= 6
}
