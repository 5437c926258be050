package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

const (
	keysCreateUsage = "retryd keys create --org ID --role admin|automation [--admin ID]"
	keysListUsage   = "retryd keys list --org ID"
	keysRevokeUsage = "retryd keys revoke ID"
)

// keysActor is who the audit log names for a change made from the command line. Each
// command gets a request id of its own, so its event can be told from another's.
func keysActor() store.Actor {
	return store.Actor{Kind: store.ActorSystem, ID: "cli", RequestID: "cli-" + uuid.NewString(),
		Credential: store.Credential{Kind: store.CredentialCLI}}
}

// runKeys manages API keys: create (prints the secret once), list (never secrets) and
// revoke. Arguments are checked before the database is opened.
func runKeys(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return keysAllUsage("keys needs a subcommand: create, list or revoke")
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, args[1:], stdout)
	case "list":
		return keysList(ctx, args[1:], stdout)
	case "revoke":
		return keysRevoke(ctx, args[1:], stdout)
	}
	return keysAllUsage(fmt.Sprintf("unknown keys subcommand %q: want create, list or revoke", args[0]))
}

func keysAllUsage(msg string) error {
	return usageError{fmt.Errorf("%s\nusage:\n  %s", msg,
		strings.Join([]string{keysCreateUsage, keysListUsage, keysRevokeUsage}, "\n  "))}
}

func keysCreate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	org := fs.String("org", "", "organization id (UUID)")
	role := fs.String("role", "", "admin or automation")
	admin := fs.String("admin", "", "admin id (UUID); required for --role admin, refused for automation")
	if done, err := keysParse(fs, args, keysCreateUsage, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return keysUsage(keysCreateUsage, "unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	orgID, err := keysUUID("--org", *org, keysCreateUsage)
	if err != nil {
		return err
	}
	var adminID *string
	switch *role {
	case store.APIKeyRoleAdmin:
		if *admin == "" {
			return keysUsage(keysCreateUsage, "--role admin needs --admin ID, the admin the key acts as")
		}
		id, err := keysUUID("--admin", *admin, keysCreateUsage)
		if err != nil {
			return err
		}
		adminID = &id
	case store.APIKeyRoleAutomation:
		if *admin != "" {
			return keysUsage(keysCreateUsage, "an automation key acts for the organization: do not give --admin")
		}
	case "":
		return keysUsage(keysCreateUsage, "--role is required (admin or automation)")
	default:
		return keysUsage(keysCreateUsage, "--role must be admin or automation, not %q", *role)
	}

	db, err := openToolDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, key, err := store.CreateAPIKey(ctx, db, orgID, *role, adminID, keysActor())
	if err != nil {
		return keysStoreError(err)
	}
	fmt.Fprintf(stdout, "created API key %s\n", key.ID)
	fmt.Fprintf(stdout, "  organization: %s\n", key.OrgID)
	fmt.Fprintf(stdout, "  role:         %s\n", key.Role)
	if key.AdminID != nil {
		fmt.Fprintf(stdout, "  admin:        %s\n", *key.AdminID)
	}
	fmt.Fprintf(stdout, "  prefix:       %s\n", key.Prefix)
	fmt.Fprintln(stdout, "\nSecret (shown only this once; it is stored hashed and cannot be shown again, so save it now):")
	fmt.Fprintln(stdout, secret)
	return nil
}

func keysList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	org := fs.String("org", "", "organization id (UUID)")
	if done, err := keysParse(fs, args, keysListUsage, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return keysUsage(keysListUsage, "unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	orgID, err := keysUUID("--org", *org, keysListUsage)
	if err != nil {
		return err
	}

	db, err := openToolDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := store.ListAPIKeys(ctx, db, orgID)
	if err != nil {
		return keysStoreError(err)
	}
	if len(keys) == 0 {
		fmt.Fprintf(stdout, "organization %s has no API keys\n", orgID)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tADMIN ID\tPREFIX\tCREATED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, keysOrDash(k.AdminID), k.Prefix,
			keysTime(k.CreatedAt), keysTimeOrDash(k.RevokedAt))
	}
	return tw.Flush()
}

func keysRevoke(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys revoke", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if done, err := keysParse(fs, args, keysRevokeUsage, stdout); done || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return keysUsage(keysRevokeUsage, "give exactly one API key id")
	}
	keyID, err := keysUUID("key id", fs.Arg(0), keysRevokeUsage)
	if err != nil {
		return err
	}

	db, err := openToolDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	k, err := store.RevokeAPIKey(ctx, db, keyID, keysActor())
	if err != nil {
		return keysStoreError(err)
	}
	fmt.Fprintf(stdout, "revoked API key %s (organization %s, role %s, prefix %s); revoked at %s\n",
		k.ID, k.OrgID, k.Role, k.Prefix, keysTimeOrDash(k.RevokedAt))
	return nil
}

// keysParse parses flags; done reports that help was printed and nothing is left to do.
func keysParse(fs *flag.FlagSet, args []string, usage string, stdout io.Writer) (done bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "Usage: %s\n", usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return true, nil
	}
	if err != nil {
		return false, keysUsage(usage, "%v", err)
	}
	return false, nil
}

func keysUsage(usage, format string, args ...any) error {
	return usageError{fmt.Errorf("%s\nusage: %s", fmt.Sprintf(format, args...), usage)}
}

// keysUUID checks that a required id is a UUID.
func keysUUID(name, value, usage string) (string, error) {
	if value == "" {
		return "", keysUsage(usage, "%s is required", name)
	}
	u, err := uuid.Parse(value)
	if err != nil {
		return "", usageError{fmt.Errorf("%s %q is not a UUID\nusage: %s", name, value, usage)}
	}
	return u.String(), nil
}

// keysStoreError makes a request the store refused as malformed a usage error; other
// refusals (not_found) and failures exit 1.
func keysStoreError(err error) error {
	if pe, ok := problem.As(err); ok && pe.Code == problem.InvalidParameter {
		return usageError{err}
	}
	return err
}

func keysOrDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func keysTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func keysTimeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return keysTime(*t)
}
