package config

import "testing"

func TestListeners(t *testing.T) {
	for _, tc := range []struct {
		listeners, advertised string
		listen                string
		host                  string
		port                  int32
	}{
		{"0.0.0.0:9092", "", "0.0.0.0:9092", "localhost", 9092},
		{"PLAINTEXT://0.0.0.0:9092", "", "0.0.0.0:9092", "localhost", 9092},
		{"plaintext://:9092", "", ":9092", "localhost", 9092},
		{":9093", "", ":9093", "localhost", 9093},
		{"[::]:9092", "", "[::]:9092", "localhost", 9092},
		{"127.0.0.1:0", "", "127.0.0.1:0", "127.0.0.1", 0},
		{"10.1.2.3:9092", "", "10.1.2.3:9092", "10.1.2.3", 9092},
		{"[::1]:9092", "", "[::1]:9092", "::1", 9092},
		{" 0.0.0.0:9092 ", "", "0.0.0.0:9092", "localhost", 9092},
		{"0.0.0.0:9092", "broker1.example.com:19092", "0.0.0.0:9092", "broker1.example.com", 19092},
		{"0.0.0.0:9092", "PLAINTEXT://kafka:9092", "0.0.0.0:9092", "kafka", 9092},
	} {
		c := Default()
		c.Listeners, c.AdvertisedListeners = tc.listeners, tc.advertised
		if err := c.Validate(); err != nil {
			t.Errorf("%q/%q: %v", tc.listeners, tc.advertised, err)
			continue
		}
		if got := c.ListenAddr(); got != tc.listen {
			t.Errorf("%q: ListenAddr() = %q, want %q", tc.listeners, got, tc.listen)
		}
		if h, p := c.AdvertisedAddr(); h != tc.host || p != tc.port {
			t.Errorf("%q/%q: AdvertisedAddr() = %s %d, want %s %d", tc.listeners, tc.advertised, h, p, tc.host, tc.port)
		}
	}
}

func TestBadListeners(t *testing.T) {
	for _, tc := range []struct{ listeners, advertised, want string }{
		{"localhost", "", `config: "listeners": must be HOST:PORT or PLAINTEXT://HOST:PORT, got "localhost"`},
		{"host:99999", "", `config: "listeners": must be HOST:PORT or PLAINTEXT://HOST:PORT, got "host:99999"`},
		{"host:http", "", `config: "listeners": must be HOST:PORT or PLAINTEXT://HOST:PORT, got "host:http"`},
		{"", "", `config: "listeners": must be HOST:PORT or PLAINTEXT://HOST:PORT, got ""`},
		{"SASL_SSL://:9092", "", `config: "listeners": only PLAINTEXT listeners are supported, got "SASL_SSL://:9092"`},
		{"PLAINTEXT://:9092,SSL://:9093", "", `config: "listeners": only one listener is supported, got "PLAINTEXT://:9092,SSL://:9093"`},
		{":9092", ":9092", `config: "advertised.listeners": must name a host clients can reach, got ":9092"`},
		{":9092", "[::]:9092", `config: "advertised.listeners": must name a host clients can reach, got "[::]:9092"`},
		{":9092", "kafka:0", `config: "advertised.listeners": port must be 1-65535, got "kafka:0"`},
	} {
		c := Default()
		c.Listeners, c.AdvertisedListeners = tc.listeners, tc.advertised
		err := c.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q/%q: Validate() = %v, want %s", tc.listeners, tc.advertised, err, tc.want)
		}
	}
}

func TestMetadataStoreDir(t *testing.T) {
	c := Default()
	c.LogDirs = "/var/lib/streamd"
	if got := c.MetadataStoreDir(); got != "/var/lib/streamd/nats" {
		t.Errorf("MetadataStoreDir() = %q", got)
	}
	c.Metadata.StoreDir = "/elsewhere"
	if got := c.MetadataStoreDir(); got != "/elsewhere" {
		t.Errorf("MetadataStoreDir() = %q", got)
	}
}
