package main

// Running a command on a remote host over SSH, the way the real provider's
// remote.Command does: dial with retries (pulumi's retry.Until backoff), one
// session, environment through Setenv, stdin from the `stdin` input,
// session.Run(command), output streamed to the engine line by line.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

const (
	envStdout = "PULUMI_COMMAND_STDOUT"
	envStderr = "PULUMI_COMMAND_STDERR"
)

// logSink is where a run reports: the engine, scoped to the resource's URN.
type logSink interface {
	status(msg string)  // ephemeral info (the real provider's InfoStatus)
	warning(msg string) // a warning kept in the update's diagnostics
	error(msg string)   // an error kept in the update's diagnostics
}

// clientConfig builds the SSH client configuration. The returned closer
// releases the agent connection, if one was opened.
func (c *connection) clientConfig() (*ssh.ClientConfig, io.Closer, error) {
	config := &ssh.ClientConfig{
		User:            c.User,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // no hostKey: the host key is ignored
		// Like the real provider: bounds the TCP connect of each dial attempt
		// (x/crypto/ssh applies ClientConfig.Timeout to the TCP dial only).
		Timeout: time.Duration(c.PerDialTimeout) * time.Second,
	}
	if c.HostKey != nil {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		config.HostKeyCallback = ssh.FixedHostKey(want)
		// Ask the server for the pinned key's own algorithm, so that a host
		// with several host keys presents that one.
		config.HostKeyAlgorithms = []string{want.Type()}
	}
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, nil, err
		}
		config.Auth = append(config.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		password := *c.Password
		config.Auth = append(config.Auth, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	socket := ""
	if c.AgentSocketPath != nil {
		socket = *c.AgentSocketPath
	} else {
		socket = os.Getenv("SSH_AUTH_SOCK")
	}
	var closer io.Closer = io.NopCloser(nil)
	if socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return nil, nil, err
		}
		closer = conn
		config.Auth = append(config.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return config, closer, nil
}

// dialWithRetry calls f until it succeeds or has failed more than limit times
// (-1: no limit), waiting with retry.Until's default backoff (100 ms, x1.5, at
// most 5 s) in between, and reporting each failure as a status message.
func dialWithRetry[T any](ctx context.Context, log logSink, what string, limit int, f func() (T, error)) (T, error) {
	var lastErr error
	ok, data, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			result, err := f()
			if err == nil {
				return true, result, nil
			}
			lastErr = err
			dials := try + 1
			if limit > -1 && dials > limit {
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, err)
			}
			max := "inf"
			if limit != -1 {
				max = strconv.Itoa(limit)
			}
			log.status(fmt.Sprintf("%s %d/%s failed: retrying", what, dials, max))
			return false, nil, nil
		},
	})
	var zero T
	if ok && err == nil {
		return data.(T), nil
	}
	if err == nil {
		err = ctx.Err()
		if err == nil {
			err = lastErr
		}
	}
	return zero, err
}

func (c *connection) endpoint() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// dial connects to the host (through the proxy, if one is set), retrying.
func (c *connection) dial(ctx context.Context, log logSink) (*ssh.Client, func(), error) {
	config, agentConn, err := c.clientConfig()
	if err != nil {
		return nil, nil, err
	}
	closers := []io.Closer{agentConn}
	done := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i].Close()
		}
	}
	fail := func(err error) (*ssh.Client, func(), error) {
		done()
		return nil, nil, err
	}
	endpoint := c.endpoint()

	if c.Proxy == nil {
		client, err := dialWithRetry(ctx, log, "Dial", c.DialErrorLimit, func() (*ssh.Client, error) {
			return ssh.Dial("tcp", endpoint, config)
		})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, client)
		return client, done, nil
	}

	proxyConfig, proxyAgent, err := c.Proxy.clientConfig()
	if err != nil {
		return fail(fmt.Errorf("proxy: %w", err))
	}
	closers = append(closers, proxyAgent)
	proxyClient, err := dialWithRetry(ctx, log, "Dial proxy", c.Proxy.DialErrorLimit, func() (*ssh.Client, error) {
		return ssh.Dial("tcp", c.Proxy.endpoint(), proxyConfig)
	})
	if err != nil {
		return fail(fmt.Errorf("proxy: %w", err))
	}
	closers = append(closers, proxyClient)
	conn, err := dialWithRetry(ctx, log, "Dial from proxy", c.DialErrorLimit, func() (net.Conn, error) {
		return proxyClient.Dial("tcp", endpoint)
	})
	if err != nil {
		return fail(fmt.Errorf("proxy: %w", err))
	}
	var chans <-chan ssh.NewChannel
	var reqs <-chan *ssh.Request
	sshConn, err := dialWithRetry(ctx, log, "Dial", c.DialErrorLimit, func() (ssh.Conn, error) {
		cc, ch, rq, err := ssh.NewClientConn(conn, endpoint, config)
		chans, reqs = ch, rq
		return cc, err
	})
	if err != nil {
		return fail(fmt.Errorf("proxy: %w", err))
	}
	client := ssh.NewClient(sshConn, chans, reqs)
	closers = append(closers, client)
	return client, done, nil
}

func setenvMessage(key string) string {
	return fmt.Sprintf(`Unable to set '%s'. This only works if your SSH server is configured to accept
	these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
	prefix the command itself with the variables in the form 'VAR=value command'`, key)
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a session's
// stdout and stderr copiers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run runs cmd on the command's host in one SSH session. On success it returns
// stdout and stderr without one trailing newline each.
func run(ctx context.Context, log logSink, c *command, cmd string) (string, string, error) {
	client, closeAll, err := c.Connection.dial(ctx, log)
	if err != nil {
		return "", "", err
	}
	defer closeAll()

	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close()

	for _, k := range sortedKeys(c.Environment) {
		if err := session.Setenv(k, c.Environment[k]); err != nil {
			log.error(setenvMessage(k))
			return "", "", fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	if c.AddPreviousOutputInEnv == nil || *c.AddPreviousOutputInEnv {
		// Optimistic: without AcceptEnv on the server this only warns.
		if c.Stdout != "" {
			if err := session.Setenv(envStdout, c.Stdout); err != nil {
				log.warning(setenvMessage(envStdout))
			}
		}
		if c.Stderr != "" {
			if err := session.Setenv(envStderr, c.Stderr); err != nil {
				log.warning(setenvMessage(envStderr))
			}
		}
	}

	if c.Stdin != nil && len(*c.Stdin) > 0 {
		session.Stdin = strings.NewReader(*c.Stdin)
	}

	var stdout, stderr, combined lockedBuffer
	r, w := io.Pipe()
	outs := []io.Writer{&stdout, &combined}
	if c.logStdout() {
		outs = append(outs, w)
	}
	errs := []io.Writer{&stderr, &combined}
	if c.logStderr() {
		errs = append(errs, w)
	}
	session.Stdout = io.MultiWriter(outs...)
	session.Stderr = io.MultiWriter(errs...)

	logged := make(chan struct{})
	go func() {
		defer close(logged)
		scanner := bufio.NewScanner(r)
		scanner.Buffer(make([]byte, 64*1024), 1024*1024)
		for scanner.Scan() {
			log.status(scanner.Text())
		}
		_, _ = io.Copy(io.Discard, r) // never block the session on a line too long to log
	}()

	err = session.Run(cmd)
	_ = w.Close()
	<-logged

	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, cmd, combined.String())
	}
	return strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n"), nil
}
