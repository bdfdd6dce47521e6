package jaas

import "testing"

func TestParse(t *testing.T) {
	c, err := Parse(`
// a comment
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret" /* inline */
       user_bob="bob\"secret";
};
Client { org.apache.zookeeper.server.auth.DigestLoginModule required username=bob password="x"; };
`)
	if err != nil {
		t.Fatal(err)
	}
	s := c["Server"]
	if len(s) != 1 || s[0].Flag != "required" || s[0].Options["user_bob"] != `bob"secret` || s[0].Options["user_super"] != "adminsecret" {
		t.Fatalf("%+v", s)
	}
	if c["Client"][0].Options["username"] != "bob" {
		t.Fatalf("%+v", c["Client"])
	}
	for _, bad := range []string{`Server { m required a="b" };`, `Server { m maybe; };`, `Server { m required a="b";`,
		`Server { m required a; };`, `{ };`} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
