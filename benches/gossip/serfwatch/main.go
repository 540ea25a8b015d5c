// serfwatch polls the RPC interface of several serf agents and prints every change of a
// member's status as seen by each agent: "<unix µs> <agent index> <member> <status>".
// Used by benches/gossip/bench.py to time serf's membership convergence and failure detection.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/serf/client"
)

func main() {
	addrs := flag.String("rpc", "", "comma-separated RPC addresses")
	every := flag.Duration("every", 50*time.Millisecond, "poll interval")
	flag.Parse()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, a := range strings.Split(*addrs, ",") {
		wg.Add(1)
		go func(i int, a string) {
			defer wg.Done()
			var c *client.RPCClient
			var err error
			for try := 0; try < 100; try++ {
				if c, err = client.NewRPCClient(a); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "connect", a, err)
				return
			}
			seen := map[string]string{}
			for {
				ms, err := c.Members()
				if err != nil {
					return
				}
				now := time.Now().UnixNano() / 1000
				for _, m := range ms {
					if seen[m.Name] != m.Status {
						seen[m.Name] = m.Status
						mu.Lock()
						fmt.Printf("%d %d %s %s\n", now, i, m.Name, m.Status)
						mu.Unlock()
					}
				}
				time.Sleep(*every)
			}
		}(i, a)
	}
	wg.Wait()
}
