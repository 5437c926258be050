package mailer

import (
	"html"
	"strings"
	"testing"
	"time"
)

type emailFunc func(LinkData) (Content, error)

func sample() LinkData {
	return LinkData{
		MemberName: "Ada Lovelace",
		ActionURL:  "https://app.headshotpro.test/m/start?token=abc.DEF-123_x&shoot=42",
		ExpiresAt:  time.Date(2027, time.January, 2, 15, 4, 5, 0, time.UTC),
	}
}

func TestSubjectsAreExact(t *testing.T) {
	// Literal strings on purpose: the help page quotes these, so a change to
	// the constants must fail here.
	cases := []struct {
		name string
		f    emailFunc
		want string
	}{
		{"retry", RetryEmail, "HeadshotPro | Please retry your shoot"},
		{"restart", RestartEmail, "HeadshotPro | Your photo shoot is ready to start"},
	}
	for _, tc := range cases {
		for _, reminder := range []int{0, 1, 3} {
			d := sample()
			d.Reminder = reminder
			c, err := tc.f(d)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if c.Subject != tc.want {
				t.Fatalf("%s reminder %d: subject %q, want %q", tc.name, reminder, c.Subject, tc.want)
			}
		}
	}
}

func TestLinkInBothBodies(t *testing.T) {
	d := sample()
	for name, f := range map[string]emailFunc{"retry": RetryEmail, "restart": RestartEmail} {
		c, err := f(d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(c.Text, "\n"+d.ActionURL+"\n") {
			t.Fatalf("%s: text body lacks the link on its own line:\n%s", name, c.Text)
		}
		escaped := html.EscapeString(d.ActionURL) // & becomes &amp; in HTML
		if !strings.Contains(c.HTML, `href="`+escaped+`"`) {
			t.Fatalf("%s: HTML lacks the button href %q:\n%s", name, escaped, c.HTML)
		}
		if !strings.Contains(c.HTML, ">"+escaped+"</a>") {
			t.Fatalf("%s: HTML lacks the plain visible URL:\n%s", name, c.HTML)
		}
		if !strings.Contains(c.Text, "This link expires on January 2, 2027.") ||
			!strings.Contains(c.HTML, "This link expires on January 2, 2027.") {
			t.Fatalf("%s: expiry date missing", name)
		}
		if !strings.Contains(c.Text, "Hi Ada Lovelace,") || !strings.Contains(c.HTML, "Hi Ada Lovelace,") {
			t.Fatalf("%s: greeting missing", name)
		}
		if strings.Contains(c.Text, "<no value>") || strings.Contains(c.HTML, "<no value>") {
			t.Fatalf("%s: unfilled template field", name)
		}
		if strings.Contains(c.Text, "<p") || !strings.HasPrefix(c.HTML, "<!DOCTYPE html>") {
			t.Fatalf("%s: text body has markup or HTML body is not a document", name)
		}
	}
}

func TestRetryEmailContent(t *testing.T) {
	c, err := RetryEmail(sample())
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{c.Text, c.HTML} {
		lower := strings.ToLower(body)
		for _, want := range []string{
			"higher-quality photos", "lighting", "plain background", "varied expressions",
			"given you a retry", "has been reset", "retry your shoot",
		} {
			if !strings.Contains(lower, want) {
				t.Fatalf("retry email lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "Reminder:") {
			t.Fatalf("first retry email must not say Reminder:\n%s", body)
		}
	}
}

func TestRestartContent(t *testing.T) {
	c, err := RestartEmail(sample())
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{c.Text, c.HTML} {
		if !strings.Contains(body, "created a new photo shoot for you") || !strings.Contains(body, "fresh access link") {
			t.Fatalf("restart email wording:\n%s", body)
		}
	}
}

func TestReminderLead(t *testing.T) {
	d := sample()
	d.Reminder = 2
	for name, f := range map[string]emailFunc{"retry": RetryEmail, "restart": RestartEmail} {
		c, err := f(d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.Text, "Reminder: ") {
			t.Fatalf("%s: text does not open with the reminder:\n%s", name, c.Text)
		}
		lead := strings.Index(c.HTML, "<strong>Reminder:</strong>")
		greeting := strings.Index(c.HTML, "Hi Ada Lovelace,")
		if lead < 0 || greeting < 0 || lead > greeting {
			t.Fatalf("%s: HTML reminder lead missing or after the greeting:\n%s", name, c.HTML)
		}
	}
}

func TestHTMLEscapesNameAndURL(t *testing.T) {
	d := sample()
	d.MemberName = `<script>alert("x")</script> & Co`
	d.ActionURL = `https://app.headshotpro.test/m/start?t="><script>alert(1)</script>`
	c, err := RetryEmail(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.HTML, "<script") {
		t.Fatalf("HTML contains an unescaped script tag:\n%s", c.HTML)
	}
	if !strings.Contains(c.HTML, "Hi &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co,") {
		t.Fatalf("HTML does not show the escaped name:\n%s", c.HTML)
	}
	if strings.Contains(c.HTML, `?t="`) || !strings.Contains(c.HTML, `?t=%22%3e%3cscript`) {
		t.Fatalf("URL broke out of its attribute:\n%s", c.HTML)
	}
	// The plain-text body is not HTML: it shows the name as written.
	if !strings.Contains(c.Text, `Hi <script>alert("x")</script> & Co,`) {
		t.Fatalf("text body altered the name:\n%s", c.Text)
	}
}

func TestNameAndExpiryFallbacks(t *testing.T) {
	d := sample()
	d.MemberName = "  \n "
	d.ExpiresAt = time.Time{}
	c, err := RestartEmail(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Text, "Hi there,") || !strings.Contains(c.HTML, "Hi there,") {
		t.Fatalf("empty name should greet 'there':\n%s", c.Text)
	}
	if strings.Contains(c.Text, "expires") || strings.Contains(c.HTML, "expires") {
		t.Fatalf("zero ExpiresAt should omit the expiry line:\n%s", c.Text)
	}

	d.MemberName = "Ada\nInjected line"
	c, err = RestartEmail(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Text, "Hi Ada Injected line,") {
		t.Fatalf("newline in name not folded:\n%s", c.Text)
	}
}

func TestRejectsBadActionURL(t *testing.T) {
	for _, u := range []string{"", "javascript:alert(1)", "/relative/path", "ftp://x.test/f", "https://x.test/a b"} {
		d := sample()
		d.ActionURL = u
		for name, f := range map[string]emailFunc{"retry": RetryEmail, "restart": RestartEmail} {
			if _, err := f(d); err == nil {
				t.Fatalf("%s accepted ActionURL %q", name, u)
			}
		}
	}
}
