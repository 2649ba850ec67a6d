// SPDX-License-Identifier: GPL-2.0
/*
 * The "mktme" key type: one key, one KeyID.
 *
 *   add_key("mktme", "name", "type=cpu algorithm=aes-xts-256", ...)
 *
 * preparse     parses the payload (payload.c); a malformed one fails here,
 *              with -EINVAL, before the key core allocates anything.
 * instantiate  checks the algorithm is activated (-EOPNOTSUPP), asks the
 *              LSMs (security_mktme_key_create(), before any side effect),
 *              allocates a KeyID charged to the key's user (-EDQUOT over
 *              that user's KeyID limit, keyid.c; -ENOKEY when none is
 *              left) and programs
 *              it: cpu -> SET_KEY_RANDOM, user -> SET_KEY_DIRECT, clear ->
 *              CLEAR_KEY, no-encrypt -> NO_ENCRYPT. The key bytes exist only
 *              in the preparsed payload, wiped when it is freed, and in the
 *              programming operand, wiped after PCONFIG: the key keeps only
 *              its KeyID, type and algorithm.
 * update       not provided: keyctl update fails with -EOPNOTSUPP. Re-keying
 *              a KeyID in place would turn the pages mapped with it into
 *              garbage (hw) behind their users' backs; add a new key instead
 *              (add_key() with the same description makes a new key and
 *              replaces the keyring link, since there is no ->update).
 * revoke       drops the key's KeyID reference at once, as user keys drop
 *              their payload (security/keys/user_defined.c): a revoked key
 *              can bind nothing, and in 6.12 the garbage collector leaves a
 *              revoked key linked (key_is_dead() ignores revoked_at), so
 *              waiting for destroy could pin a scarce KeyID indefinitely.
 * destroy      (last reference gone, from the key garbage collector) drops
 *              the key's KeyID reference unless revoke did.
 *              Regions bound to the KeyID hold their own reference, so the
 *              KeyID is reprogrammed and returned to the pool only once the
 *              key is revoked or gone and no page carries it. A region of a
 *              revoked, invalidated or expired key maps nothing more: its
 *              faults raise SIGBUS and fork() gives children none of its
 *              pages (dev.c).
 * describe     /proc/keys: "name: keyid=N type=T alg=A". KeyIDs are not
 *              secret (they are in the page tables); key bytes never appear.
 * read         keyctl read: the same "keyid=N type=T alg=A\n", nothing else.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/errno.h>
#include <linux/key-type.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "mktme.h"

static int mktme_key_preparse(struct key_preparsed_payload *prep)
{
	struct mktme_payload *p;
	int ret;

	if (!prep->data || !prep->datalen || prep->datalen > MKTME_PAYLOAD_MAX)
		return -EINVAL;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	ret = mktme_payload_parse(prep->data, prep->datalen, p);
	if (ret) {
		kfree_sensitive(p);
		return ret;
	}
	prep->payload.data[0] = p;
	prep->quotalen = sizeof(struct mktme_key);
	return 0;
}

static void mktme_key_free_preparse(struct key_preparsed_payload *prep)
{
	kfree_sensitive(prep->payload.data[0]);
}

static unsigned int mktme_type_cmd(enum mktme_key_type type)
{
	switch (type) {
	case MKTME_KEY_TYPE_USER:
		return MKTME_KEYID_SET_KEY_DIRECT;
	case MKTME_KEY_TYPE_CLEAR:
		return MKTME_KEYID_CLEAR_KEY;
	case MKTME_KEY_TYPE_NO_ENCRYPT:
		return MKTME_KEYID_NO_ENCRYPT;
	case MKTME_KEY_TYPE_CPU:
	default:
		return MKTME_KEYID_SET_KEY_RANDOM;
	}
}

static int mktme_key_instantiate(struct key *key,
				 struct key_preparsed_payload *prep)
{
	const struct mktme_backend *b = mktme_backend;
	struct mktme_payload *p = prep->payload.data[0];
	struct mktme_key *mk;
	unsigned int alg;
	bool user;
	int keyid, ret;

	if (!b)
		return -ENODEV;
	if (WARN_ON_ONCE(!p))
		return -EINVAL;
	user = p->type == MKTME_KEY_TYPE_USER;
	alg = (p->alg_set || user) ? p->alg : mktme_default_alg(b);
	if (!(b->algorithms & MKTME_ALG_BIT(alg)))
		return -EOPNOTSUPP;

	/* The policy decides before anything is allocated or programmed. */
	ret = security_mktme_key_create(key, p->type, alg);
	if (ret)
		return ret;

	mk = kzalloc(sizeof(*mk), GFP_KERNEL);
	if (!mk)
		return -ENOMEM;
	keyid = mktme_keyid_alloc(key->uid);
	if (keyid < 0) {
		ret = keyid;
		goto out_free;
	}
	ret = mktme_keyid_program(keyid, mktme_type_cmd(p->type), alg,
				  user ? p->key : NULL, user ? p->tweak : NULL,
				  user ? p->key_len : 0);
	/* The key bytes are in the hardware (or nowhere) now. */
	memzero_explicit(p->key, sizeof(p->key));
	memzero_explicit(p->tweak, sizeof(p->tweak));
	if (ret) {
		/* Reprograms the KeyID with CLEAR_KEY before reuse. */
		mktme_keyid_put(keyid);
		goto out_free;
	}

	mk->keyid = keyid;
	mk->type = p->type;
	mk->alg = alg;
	key->payload.data[0] = mk;
	return 0;

out_free:
	kfree(mk);
	return ret;
}

/* Called with key->sem write-locked: see mktme_key_get_keyid(). */
static void mktme_key_revoke(struct key *key)
{
	struct mktme_key *mk = key->payload.data[0];
	unsigned int keyid;

	if (!mk)
		return;
	keyid = mk->keyid;
	WRITE_ONCE(mk->keyid, 0);
	if (keyid) {
		mktme_keyid_put(keyid);
		/* The key lingers until the GC; its KeyID does not. */
		security_mktme_key_revoked(key);
	}
}

static void mktme_key_destroy(struct key *key)
{
	struct mktme_key *mk = key->payload.data[0];

	if (!mk)
		return;
	key->payload.data[0] = NULL;
	if (mk->keyid)
		mktme_keyid_put(mk->keyid);
	kfree(mk);
}

static int mktme_key_format(const struct mktme_key *mk, char *buf, size_t len)
{
	return scnprintf(buf, len, "keyid=%u type=%s alg=%s", mk->keyid,
			 mktme_key_type_name(mk->type),
			 mktme_alg_name(mk->alg));
}

static void mktme_key_describe(const struct key *key, struct seq_file *m)
{
	const struct mktme_key *mk = key->payload.data[0];
	char buf[64];

	seq_puts(m, key->description);
	if (key_is_positive(key) && mk && READ_ONCE(mk->keyid)) {
		mktme_key_format(mk, buf, sizeof(buf));
		seq_printf(m, ": %s", buf);
	}
}

static long mktme_key_read(const struct key *key, char *buffer, size_t buflen)
{
	const struct mktme_key *mk = key->payload.data[0];
	char buf[64];
	int len;

	if (!mk || !mk->keyid)
		return -EKEYREVOKED;
	len = mktme_key_format(mk, buf, sizeof(buf) - 1);
	buf[len++] = '\n';
	if (buffer && buflen)
		memcpy(buffer, buf, min_t(size_t, len, buflen));
	return len;
}

struct key_type key_type_mktme = {
	.name		= "mktme",
	.preparse	= mktme_key_preparse,
	.free_preparse	= mktme_key_free_preparse,
	.instantiate	= mktme_key_instantiate,
	.revoke		= mktme_key_revoke,
	.destroy	= mktme_key_destroy,
	.describe	= mktme_key_describe,
	.read		= mktme_key_read,
};

int mktme_key_keyid(const struct key *key)
{
	const struct mktme_key *mk;
	int ret;

	if (!key || key->type != &key_type_mktme)
		return -EINVAL;
	ret = key_validate(key);
	if (ret)
		return ret;
	if (!key_is_positive(key))
		return -ENOKEY;
	mk = key->payload.data[0];
	if (!mk)
		return -ENOKEY;
	return READ_ONCE(mk->keyid) ?: -EKEYREVOKED;
}

int mktme_key_get_keyid(struct key *key)
{
	int keyid;

	/* Excludes mktme_key_revoke(), which drops the key's reference. */
	down_read(&key->sem);
	keyid = mktme_key_keyid(key);
	if (keyid > 0)
		mktme_keyid_get(keyid);
	up_read(&key->sem);
	return keyid;
}
