// Package freeport picks loopback ports that are free, for the servers a harness starts
// on this machine.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Pick returns n distinct loopback ports that were free a moment ago. All n are held
// open together while choosing, so they differ from each other.
func Pick(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// PickBelow is Pick with every port under limit, for servers that store their ports in
// narrow columns (the Temporal server keeps membership ports in a smallint). It tries
// random ports from 20000 up.
func PickBelow(n, limit int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("no %d free ports below %d", n, limit)
		}
		port := 20000 + rand.IntN(limit-20000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		out = append(out, port)
	}
	return out, nil
}
