package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The Makefile's lambda_build recipe, as words: the environment, then go's
// arguments. $(1) is the directory under functions/, $(2) the output file; the
// bench builds with the same words, GOARCH aside for the host build.
var (
	buildEnv   = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}
	buildFlags = []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}
)

// recipeWords is the recipe the bench builds with, in the Makefile's terms.
func recipeWords() []string {
	w := slices.Concat(buildEnv, []string{"go"}, buildFlags)
	return append(w, "-o", "$(2)", "./functions/$(1)")
}

// checkRecipe fails when the Makefile's lambda_build recipe is not the command the
// bench builds with, so the sizes measured stay those of the deploy artifacts.
func checkRecipe(makefile []byte) error {
	line, err := makeDefine(makefile, "lambda_build")
	if err != nil {
		return err
	}
	got, err := shellWords(line)
	if err != nil {
		return fmt.Errorf("lambda_build in the Makefile: %w", err)
	}
	if want := recipeWords(); !slices.Equal(got, want) {
		return fmt.Errorf("lambda_build in the Makefile is %q; infra/bench/startup builds with %q: update one of them", got, want)
	}
	return nil
}

// makeDefine returns the one command line of `define name` ... `endef`.
func makeDefine(makefile []byte, name string) (string, error) {
	var lines []string
	in, closed := false, false
	sc := bufio.NewScanner(bytes.NewReader(makefile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in && line == "define "+name:
			in = true
		case in && line == "endef":
			in, closed = false, true
		case in && line != "" && !strings.HasPrefix(line, "#"):
			lines = append(lines, line)
		}
		if closed {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	switch {
	case !closed:
		return "", fmt.Errorf("no complete define %s in the Makefile", name)
	case len(lines) != 1:
		return "", fmt.Errorf("define %s in the Makefile has %d command lines, want 1", name, len(lines))
	}
	return lines[0], nil
}

// shellWords splits a command line as the shell would for the quoting the Makefile
// uses: blanks separate words, single and double quotes group and are removed. A
// backslash, $(( or backquote is refused rather than misread.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\' || r == '`':
			return nil, fmt.Errorf("unsupported %q in %q", r, line)
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// build compiles fn for linux/goarch with the recipe into dir/goarch/name/bootstrap,
// from the module root, and returns the file's path. A failure carries go's output.
func build(root, dir, goarch string, fn function) (string, error) {
	out := filepath.Join(dir, goarch, fn.name, "bootstrap")
	args := slices.Concat(buildFlags, []string{"-o", out, fn.pkg})
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	env := slices.Clone(buildEnv)
	for i, kv := range env {
		if strings.HasPrefix(kv, "GOARCH=") {
			env[i] = "GOARCH=" + goarch
		}
	}
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s for linux/%s: %w\n%s", fn.name, goarch, err, b)
	}
	return out, nil
}

// elfMachines maps GOARCH to the ELF machine of its binaries.
var elfMachines = map[string]elf.Machine{
	"arm64":   elf.EM_AARCH64,
	"amd64":   elf.EM_X86_64,
	"386":     elf.EM_386,
	"arm":     elf.EM_ARM,
	"riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
}

// strippedSize returns the size in bytes of the binary at path after checking that
// it is a Linux executable for goarch with no symbol table or DWARF, as deployed.
func strippedSize(path, goarch string) (int64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[goarch]; ok && f.Machine != want {
		return 0, fmt.Errorf("%s is for %v, not %s", path, f.Machine, goarch)
	}
	for _, name := range []string{".symtab", ".debug_info", ".zdebug_info"} {
		if f.Section(name) != nil {
			return 0, fmt.Errorf("%s is not stripped: it has %s", path, name)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st.Size() == 0 {
		return 0, errors.New(path + " is empty")
	}
	return st.Size(), nil
}
