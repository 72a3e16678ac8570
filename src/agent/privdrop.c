/* privdrop.c: gives up root for good once the socket is bound and the key files are read (needs
 * CAP_SETUID and CAP_SETGID, nothing after); called by main.c before any thread starts. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include "agent/agent.h"

int agent_resolve_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, struct err *e)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw)
		return err_set(e, errno ? -errno : -ENOENT, "user '%s' does not exist; create it "
			       "(adduser --system --no-create-home %s) or set user = nobody", name, name);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return err_set(e, -EINVAL, "user '%s' is root (uid or gid 0); name an unprivileged user",
			       name);
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
	return 0;
}

/* After the switch every id must be the user's, and the way back must be shut. */
static int verify_dropped(uid_t uid, gid_t gid, struct err *e)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return err_set(e, -errno, "privileges: cannot read ids: %s", strerror(errno));
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid ||
	    getgroups(0, NULL) != 0)
		return err_set(e, -EPERM, "privileges: ids did not all change");
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return err_set(e, -EPERM, "privileges: root could be regained after dropping it");
	return 0;
}

/* Run as root: switch to user (NULL or "": nobody). Not root: stay who we are (user, if given,
 * must be us). No new privileges in both cases, so no exec'd helper could gain any. */
int agent_drop_privileges(const char *user, struct err *e)
{
	const char *name = user && user[0] ? user : "nobody";
	uid_t uid;
	gid_t gid;
	int r;

	if (geteuid() != 0) {
		if (user && user[0] && (agent_resolve_user(name, &uid, &gid, e) < 0 || uid != geteuid()))
			return err_set(e, -EPERM, "not started as root, so cannot switch to user '%s'",
				       name);
	} else {
		r = agent_resolve_user(name, &uid, &gid, e);
		if (r < 0)
			return r;
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
			return err_set(e, -errno, "privileges: cannot switch to user '%s': %s", name,
				       strerror(errno));
		r = verify_dropped(uid, gid, e);
		if (r < 0)
			return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(e, -errno, "privileges: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}
