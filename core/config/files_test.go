package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// go test ./core/config -run TestFiles -update rewrites config.toml and the generated
// tables of docs/config.md from the settings table.
var update = flag.Bool("update", false, "rewrite config.toml and the tables in docs/config.md")

var (
	repoConfig = filepath.Join("..", "..", "config.toml")
	repoDocs   = filepath.Join("..", "..", "docs", "config.md")
)

func TestFilesConfigTOMLIsGolden(t *testing.T) {
	want := DefaultTOML()
	if *update {
		if err := os.WriteFile(repoConfig, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("config.toml differs from DefaultTOML() (settings table); run go test ./core/config -run TestFiles -update\n%s",
			firstDiff(string(got), want))
	}
}

func TestFilesConfigTOMLLoadsToDefault(t *testing.T) {
	c, err := Load(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !c.inFile(k) {
			t.Errorf("config.toml does not set %q", k)
		}
	}
	cv, dv := reflect.ValueOf(c), reflect.ValueOf(Default())
	for _, s := range settings {
		if got, want := s.field(cv), s.field(dv); !got.Equal(want) {
			t.Errorf("config.toml sets %q = %v, Default() has %v", s.key, got, want)
		}
	}
	c.fileKeys = ""
	if c != Default() {
		t.Error("config.toml does not load to Default()")
	}
	// Every field of Config (including the tables) is a key of config.toml.
	var count func(t reflect.Type) int
	count = func(t reflect.Type) int {
		n := 0
		for i := range t.NumField() {
			f := t.Field(i)
			switch {
			case !f.IsExported():
			case f.Type.Kind() == reflect.Struct:
				n += count(f.Type)
			default:
				n++
			}
		}
		return n
	}
	if n := count(reflect.TypeFor[Config]()); n != len(Keys()) {
		t.Errorf("Config has %d settings, config.toml %d", n, len(Keys()))
	}
}

func TestFilesDocsTables(t *testing.T) {
	data, err := os.ReadFile(repoDocs)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, tbl := range []struct{ name, body string }{
		{"broker", docsBrokerTable()},
		{"topic", docsTopicTable()},
	} {
		begin := fmt.Sprintf("<!-- BEGIN GENERATED %s table -->\n", tbl.name)
		end := fmt.Sprintf("<!-- END GENERATED %s table -->", tbl.name)
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Fatalf("docs/config.md lacks the markers %q ... %q", begin, end)
		}
		if got := doc[i+len(begin) : j]; got != tbl.body {
			if *update {
				doc = doc[:i+len(begin)] + tbl.body + doc[j:]
				continue
			}
			t.Errorf("docs/config.md %s table is stale; run go test ./core/config -run TestFiles -update\n%s",
				tbl.name, firstDiff(got, tbl.body))
		}
	}
	if *update && doc != string(data) {
		if err := os.WriteFile(repoDocs, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func docsBrokerTable() string {
	var b strings.Builder
	b.WriteString("| Setting | Default | Meaning |\n|---|---|---|\n")
	dv := reflect.ValueOf(Default())
	for _, s := range settings {
		name := s.key
		if i := strings.IndexByte(name, '.'); i > 0 && sections[name[:i]] {
			name = "[" + name[:i] + "] " + name[i+1:]
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", name, tomlValue(s.field(dv)), mdEscape(s.doc))
	}
	return b.String()
}

func docsTopicTable() string {
	var b strings.Builder
	b.WriteString("| Config | Type | Default | From broker setting | Valid values | Meaning |\n|---|---|---|---|---|---|\n")
	c := Default()
	for _, d := range TopicConfigDefs() {
		v, _ := c.TopicDefault(d.Name)
		valid := d.Valid
		if valid != "" {
			valid = "`" + valid + "`"
		}
		from := "-"
		if len(d.Synonyms) > 0 {
			from = "`" + strings.Join(d.Synonyms, "` > `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s |\n",
			d.Name, d.Type, v, from, valid, mdEscape(d.Doc))
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(s)
}

// firstDiff shows the first differing line of got and want.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, gl, wl)
		}
	}
	return ""
}
