module github.com/zkgo/zkgo

go 1.26
