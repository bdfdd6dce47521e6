package node

// fourLetter answers an admin command and closes the connection
// (NIOServerCnxn.checkFourLetterWord).
func (s *Server) fourLetter(cc *clientConn, word string) {
	cc.fourLetter = true
	var out string
	if !s.cfg.FourLetterAllowed(word) {
		out = word + " is not executed because it is not in the whitelist.\n"
	} else {
		out = s.fourLetterOutput(word)
	}
	if !cc.dead {
		cc.out = append(cc.out, out...)
		cc.completed++
		s.markDirty(cc)
	}
	s.closeConn(cc, "four letter word "+word)
}

func (s *Server) fourLetterOutput(word string) string {
	switch word {
	case "ruok":
		return "imok"
	}
	return ""
}
