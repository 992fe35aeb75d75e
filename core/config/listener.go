package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// parseListener parses listeners / advertised.listeners: "HOST:PORT" or
// "PLAINTEXT://HOST:PORT" (HOST may be empty or an IPv6 literal in brackets). Only one
// listener and only PLAINTEXT are supported. It returns a problem text instead of an
// error so callers can prefix the key.
func parseListener(s string) (host string, port int, problem string) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ",") {
		return "", 0, fmt.Sprintf("only one listener is supported, got %q", s)
	}
	rest := s
	if scheme, after, ok := strings.Cut(s, "://"); ok {
		if !strings.EqualFold(scheme, "PLAINTEXT") {
			return "", 0, fmt.Sprintf("only PLAINTEXT listeners are supported, got %q", s)
		}
		rest = after
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return "", 0, fmt.Sprintf("must be HOST:PORT or PLAINTEXT://HOST:PORT, got %q", s)
	}
	return host, port, ""
}

// splitHostPort is net.SplitHostPort with a numeric port in 0..65535.
func splitHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// ListenAddr is the host:port to listen on, from listeners (an empty host means every
// interface, as for net.Listen). It assumes a validated Config; an unparsable
// listeners value is returned unchanged so that net.Listen reports it.
func (c Config) ListenAddr() string {
	host, port, problem := parseListener(c.Listeners)
	if problem != "" {
		return c.Listeners
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// AdvertisedAddr is the host and port given to clients: advertised.listeners when set,
// else listeners with an unspecified host ("", 0.0.0.0, ::) replaced by "localhost".
// The port is 0 when listeners uses port 0; the caller then advertises the port it
// actually bound.
func (c Config) AdvertisedAddr() (host string, port int32) {
	src := c.Listeners
	if strings.TrimSpace(c.AdvertisedListeners) != "" {
		src = c.AdvertisedListeners
	}
	h, p, problem := parseListener(src)
	if problem != "" {
		return "localhost", 0
	}
	if h == "" || net.ParseIP(h).IsUnspecified() {
		h = "localhost"
	}
	return h, int32(p)
}
