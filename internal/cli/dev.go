package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/arus-io/arus/internal/config"
)

func newDevCommand() *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Local development helpers",
		Long: `Helpers for trying arus on one machine. "arus dev cluster" runs a local
multi-node cluster of arus processes for experiments with replication and
failover; it is not meant for production (use "arus serve" on each machine).`,
	}
	var nodes, brokers int
	var basePort int
	var dataDir string
	var secure bool
	cluster := &cobra.Command{
		Use:   "cluster",
		Short: "Run a local multi-node cluster, each node its own arus process",
		Long: `Start a local cluster for trying replication and failover: every node is
its own arus child process (broker and controller), client listeners on
127.0.0.1:9092, 9093, 9094, ..., inter-broker listeners (replication and the
metadata quorum; peers only) on 127.0.0.1:19092, 19093, ... (base port +
10000), HTTP listeners (/metrics, /healthz, /readyz) on 127.0.0.1:29092,
29093, ... (base port + 20000; with the default base port node 1 serves the
console and its metrics on localhost:8080 instead), data under
./arus-dev-data/node-N.

The command prints the bootstrap address and each node's own command, stays in
the foreground showing the nodes' logs, and stops every node on Ctrl-C. Kill a
node (for example with kill -9 on its pid) to watch failover; start it again
with its printed command, or run "arus dev cluster" again in another terminal:
it starts only the nodes that are not running.

With --secure the client listeners are SASL_SSL: a CA and a broker
certificate are generated under <data dir>/secure (and reused by later
runs), the authorizer is on (ACLs enforced, allow.everyone.if.no.acl.found
false), and the super user "admin" gets SCRAM-SHA-256 and SCRAM-SHA-512
credentials with a generated password (<data dir>/secure/admin.password).
Once admin can log in, the command prints the client settings: a Kafka
client.properties (for --command-config of the Kafka tools and of arus), a
kcat config, and the equivalent arus CLI flags. The inter-broker listeners
stay PLAINTEXT on 127.0.0.1.`,
		Example: `  arus dev cluster --nodes 3
  arus topic create orders --partitions 6 --replication-factor 3 -b 127.0.0.1:9092
  arus dev cluster --secure
  arus topic list -b 127.0.0.1:9092 --command-config arus-dev-data/secure/client.properties`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDevCluster(cmd.Context(), cmd.OutOrStdout(), nodes, brokers, basePort, dataDir, secure)
		},
	}
	cluster.Flags().IntVar(&nodes, "nodes", 3, "number of combined nodes (broker and controller: voters of the metadata quorum)")
	cluster.Flags().IntVar(&brokers, "brokers", 0, "number of extra broker-only nodes (they follow the voters' metadata)")
	cluster.Flags().IntVar(&basePort, "base-port", devDefaultBasePort, "client port of node 1; node N listens on base-port+N-1 and on base-port+10000+N-1 for its peers")
	cluster.Flags().StringVar(&dataDir, "data-dir", "arus-dev-data", "parent directory of the nodes' data directories")
	cluster.Flags().BoolVar(&secure, "secure", false, "SASL_SSL client listeners with a generated CA, the authorizer on and a SCRAM super user \"admin\"; prints the client settings")
	dev.AddCommand(cluster)
	return dev
}

// devHTTPOffset puts node N's HTTP listener at base port + 20000 + N-1.
const devHTTPOffset = 20000

// devDefaultBasePort is --base-port's default: Kafka's port for node 1.
const devDefaultBasePort = 9092

func runDevCluster(ctx context.Context, out io.Writer, voterCount, brokerCount, basePort int, dataDir string, secure bool) error {
	if voterCount < 1 || voterCount > 9 || brokerCount < 0 || voterCount+brokerCount > 16 {
		return fmt.Errorf("--nodes must be between 1 and 9 and --brokers at most %d, got %d and %d", 16-voterCount, voterCount, brokerCount)
	}
	nodes := voterCount + brokerCount
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the arus binary: %w", err)
	}
	if basePort < 1 || basePort+devInterBrokerOffset+nodes > 65535 {
		return fmt.Errorf("--base-port %d: the inter-broker ports (base port + %d) must stay below 65536", basePort, devInterBrokerOffset)
	}
	var voters, addrs, inter []string
	for i := 1; i <= nodes; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", basePort+i-1)
		addrs = append(addrs, addr)
		inter = append(inter, fmt.Sprintf("127.0.0.1:%d", basePort+devInterBrokerOffset+i-1))
		if i <= voterCount {
			voters = append(voters, fmt.Sprintf("%d@%s", i, inter[i-1]))
		}
	}
	var sec *devSecurity
	if secure {
		if sec, err = prepareDevSecurity(dataDir); err != nil {
			return err
		}
	}
	args := func(i int) []string {
		// With the default ports node 1 serves the console and its
		// metrics on the default address; otherwise (a second dev
		// cluster beside the first) every node uses a port of its own.
		httpListener := "off"
		if i == 1 && basePort == devDefaultBasePort {
			httpListener = config.DefaultHTTPListener
		} else if port := basePort + devHTTPOffset + i - 1; port < 65536 {
			httpListener = fmt.Sprintf("127.0.0.1:%d", port)
		}
		listeners := []string{"--listener", addrs[i-1], "--inter-broker-listener", inter[i-1]}
		if sec != nil {
			listeners = []string{"--config", filepath.Join(sec.dir, fmt.Sprintf("node-%d.properties", i))}
		}
		return append(append([]string{"serve", "--node-id", fmt.Sprint(i)}, listeners...),
			"--data-dir", filepath.Join(dataDir, fmt.Sprintf("node-%d", i)),
			"--controller-quorum-voters", strings.Join(voters, ","), "--num-partitions", "3", "--http-listener", httpListener)
	}
	if sec != nil {
		for i := 1; i <= nodes; i++ {
			if _, err := sec.writeNodeConfig(i, addrs[i-1], inter[i-1]); err != nil {
				return fmt.Errorf("node %d config: %w", i, err)
			}
		}
	}
	fmt.Fprintf(out, "arus dev cluster: %d nodes (%d controllers)\n  bootstrap: %s\n", nodes, voterCount, strings.Join(addrs, ","))
	var children []*exec.Cmd
	var wg sync.WaitGroup
	for i := 1; i <= nodes; i++ {
		fmt.Fprintf(out, "  node %d:    %s %s\n", i, exe, strings.Join(args(i), " "))
		if c, err := net.DialTimeout("tcp", addrs[i-1], 200*time.Millisecond); err == nil {
			c.Close()
			fmt.Fprintf(out, "  node %d is already running on %s; not starting it\n", i, addrs[i-1])
			continue
		}
		cmd := exec.Command(exe, args(i)...)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			stopChildren(children)
			return fmt.Errorf("start node %d: %w", i, err)
		}
		children = append(children, cmd)
		fmt.Fprintf(out, "  node %d started (pid %d)\n", i, cmd.Process.Pid)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				fmt.Fprintf(out, "[node %d] %s\n", i, sc.Text())
			}
		}(i)
	}
	if len(children) == 0 {
		fmt.Fprintln(out, "every node is already running")
		if sec != nil {
			sec.printSettings(out, strings.Join(addrs, ","))
		}
		return nil
	}
	stopAdmin := func() {}
	if sec != nil {
		// Create admin's SCRAM credentials once the cluster answers, then
		// print the settings; stopped with the nodes.
		adminCtx, cancelAdmin := context.WithTimeout(ctx, 2*time.Minute)
		stopAdmin = cancelAdmin
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sec.createAdmin(adminCtx, out, addrs); err != nil {
				fmt.Fprintf(out, "arus dev cluster --secure: %v\n", err)
				return
			}
			sec.printSettings(out, strings.Join(addrs, ","))
		}()
	}
	fmt.Fprintln(out, "Ctrl-C stops the nodes started here.")
	exited := make(chan int, len(children))
	for i, c := range children {
		go func(i int, c *exec.Cmd) {
			_ = c.Wait()
			exited <- i
		}(i, c)
	}
	running := len(children)
	for running > 0 {
		select {
		case <-ctx.Done():
			stopChildren(children)
			for running > 0 {
				<-exited
				running--
			}
		case i := <-exited:
			running--
			fmt.Fprintf(out, "arus dev cluster: a node (pid %d) exited: %v; restart it with its command above\n", children[i].Process.Pid, children[i].ProcessState)
		}
	}
	stopAdmin()
	wg.Wait()
	return nil
}

// devInterBrokerOffset separates a dev node's inter-broker port from its
// client port.
const devInterBrokerOffset = 10000

// stopChildren asks every child to shut down cleanly.
func stopChildren(children []*exec.Cmd) {
	for _, c := range children {
		if c.Process != nil && c.ProcessState == nil {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
	}
}
