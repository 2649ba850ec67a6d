// SPDX-License-Identifier: GPL-2.0
/*
 * mktme core: backend selection at boot, and what it shows of itself.
 *
 *   mktme=auto      (default) the hw backend if TME-MK is enabled by the
 *                   BIOS and usable, else off
 *   mktme=hw        the hw backend, or off (with an error) if unusable
 *   mktme=emulate   the emulated backend (backend_emu.c): the same checks
 *                   and codes as the hardware, no encryption
 *   mktme=off       nothing: no key type, no /dev/mktme
 *
 * /sys/kernel/mm/mktme/ (read-only, present whatever the mode): backend
 * ("hw", "emulate" or "off"), encrypts (0/1), nr_keyids, keyids_in_use,
 * keyids_quarantined, algorithms (activated, by name), pages_mapped, and
 * blocks, blocks_empty, single_pages and blocks_drain (write-only, root:
 * give back every empty block).
 *
 * /sys/kernel/debug/mktme/keyids: per KeyID its references, state (free,
 * in-use, quarantined), last command and algorithm programmed. Never key
 * bytes: the kernel does not keep them. The emulated backend adds its
 * fault-injection files there (backend_emu.c).
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/key-type.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "mktme.h"

const struct mktme_backend *mktme_backend __ro_after_init;

enum mktme_mode { MKTME_AUTO, MKTME_HW, MKTME_EMULATE, MKTME_OFF };
static enum mktme_mode mktme_mode __initdata = MKTME_AUTO;

static int __init mktme_setup(char *s)
{
	if (!strcmp(s, "auto"))
		mktme_mode = MKTME_AUTO;
	else if (!strcmp(s, "hw"))
		mktme_mode = MKTME_HW;
	else if (!strcmp(s, "emulate"))
		mktme_mode = MKTME_EMULATE;
	else if (!strcmp(s, "off"))
		mktme_mode = MKTME_OFF;
	else
		pr_err("mktme=%s: want auto, hw, emulate or off; using auto\n",
		       s);
	return 1;
}
__setup("mktme=", mktme_setup);

/* sysfs: /sys/kernel/mm/mktme/ */

static ssize_t backend_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", mktme_backend ? mktme_backend->name :
							"off");
}
static struct kobj_attribute backend_attr = __ATTR_RO(backend);

static ssize_t encrypts_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%d\n", mktme_backend && mktme_backend->encrypts &&
			  !mktme_backend->model);
}
static struct kobj_attribute encrypts_attr = __ATTR_RO(encrypts);

static ssize_t nr_keyids_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  mktme_backend ? mktme_backend->nr_keyids : 0);
}
static struct kobj_attribute nr_keyids_attr = __ATTR_RO(nr_keyids);

static ssize_t keyids_in_use_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", mktme_keyids_in_use());
}
static struct kobj_attribute keyids_in_use_attr = __ATTR_RO(keyids_in_use);

static ssize_t keyids_quarantined_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", mktme_keyids_quarantined());
}
static struct kobj_attribute keyids_quarantined_attr =
	__ATTR_RO(keyids_quarantined);

static ssize_t algorithms_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	static const unsigned int algs[] = {
		MKTME_ALG_AES_XTS_128, MKTME_ALG_AES_XTS_256,
	};
	int i, len = 0;

	for (i = 0; mktme_backend && i < ARRAY_SIZE(algs); i++)
		if (mktme_backend->algorithms & MKTME_ALG_BIT(algs[i]))
			len += sysfs_emit_at(buf, len, "%s%s", len ? " " : "",
					     mktme_alg_name(algs[i]));
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}
static struct kobj_attribute algorithms_attr = __ATTR_RO(algorithms);

static ssize_t pages_mapped_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&mktme_pages_mapped));
}
static struct kobj_attribute pages_mapped_attr = __ATTR_RO(pages_mapped);

/*
 * The blocks (blocks.c): blocks (2 MiB blocks out of the direct map, in use
 * or kept empty), blocks_empty (of those, kept with no page in use; the
 * shrinker gives them back, and so does writing 1 to blocks_drain), and
 * single_pages (pages that had to be taken out of the direct map one by
 * one, splitting it, because no block could be had).
 */
static ssize_t blocks_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&mktme_blocks_nr));
}
static struct kobj_attribute blocks_attr = __ATTR_RO(blocks);

static ssize_t blocks_empty_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", mktme_blocks_empty());
}
static struct kobj_attribute blocks_empty_attr = __ATTR_RO(blocks_empty);

static ssize_t single_pages_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&mktme_single_pages));
}
static struct kobj_attribute single_pages_attr = __ATTR_RO(single_pages);

static ssize_t blocks_drain_store(struct kobject *kobj,
				  struct kobj_attribute *attr, const char *buf,
				  size_t count)
{
	bool drain;

	if (kstrtobool(buf, &drain))
		return -EINVAL;
	if (drain)
		mktme_blocks_drain(ULONG_MAX);
	return count;
}
static struct kobj_attribute blocks_drain_attr = __ATTR_WO(blocks_drain);

static struct attribute *mktme_attrs[] = {
	&backend_attr.attr,
	&encrypts_attr.attr,
	&nr_keyids_attr.attr,
	&keyids_in_use_attr.attr,
	&keyids_quarantined_attr.attr,
	&algorithms_attr.attr,
	&pages_mapped_attr.attr,
	&blocks_attr.attr,
	&blocks_empty_attr.attr,
	&single_pages_attr.attr,
	&blocks_drain_attr.attr,
	NULL,
};

static const struct attribute_group mktme_attr_group = {
	.attrs = mktme_attrs,
};

static int __init mktme_sysfs_init(void)
{
	struct kobject *kobj;
	int ret;

	kobj = kobject_create_and_add("mktme", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kobj, &mktme_attr_group);
	if (ret)
		kobject_put(kobj);
	return ret;
}

/* debugfs: /sys/kernel/debug/mktme/ */

static int keyids_show(struct seq_file *m, void *unused)
{
	mktme_keyids_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(keyids);

static void __init mktme_debugfs_init(const struct mktme_backend *b)
{
	struct dentry *dir = debugfs_create_dir("mktme", NULL);

	debugfs_create_file("keyids", 0400, dir, NULL, &keyids_fops);
	if (b->debugfs_init)
		b->debugfs_init(b, dir);
}

int mktme_run_steps(const struct mktme_start_step *steps, unsigned int n,
		    const struct mktme_backend *b)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = steps[i].start(b);
		if (ret)
			goto undo;
	}
	return 0;

undo:
	pr_err("%s backend: %s failed (%d); undoing the %u steps before it\n",
	       b->name, steps[i].what, ret, i);
	while (i--)
		if (steps[i].undo)
			steps[i].undo(b);
	return ret;
}

static int __init mktme_backend_start(const struct mktme_backend *b)
{
	return b->start ? b->start(b) : 0;
}

static void __init mktme_backend_stop(const struct mktme_backend *b)
{
	if (b->stop)
		b->stop(b);
}

static int __init mktme_publish(const struct mktme_backend *b)
{
	mktme_backend = b;
	return 0;
}

static void __init mktme_unpublish(const struct mktme_backend *b)
{
	mktme_backend = NULL;
}

static int __init mktme_key_type_init(const struct mktme_backend *b)
{
	return register_key_type(&key_type_mktme);
}

static void __init mktme_key_type_exit(const struct mktme_backend *b)
{
	unregister_key_type(&key_type_mktme);
}

static int __init mktme_dev_start(const struct mktme_backend *b)
{
	return mktme_dev_init();
}

/*
 * In this order: the pool and the PTE encoding before anything can hand
 * out a KeyID or put one in a page table; the CPU hotplug callbacks (hw)
 * and the PM notifier before the first key can be programmed; the backend
 * published before the key type, whose instantiate reads it. The last
 * step undoes its own partial work, so it needs no undo here.
 */
static const struct mktme_start_step mktme_start_steps[] __initconst = {
	{ "KeyID pool", mktme_keyids_init, mktme_keyids_exit },
	{ "PTE KeyID field", mktme_pte_init, mktme_pte_exit },
	{ "backend start", mktme_backend_start, mktme_backend_stop },
	{ "PM notifier", mktme_pm_init, mktme_pm_exit },
	{ "publishing the backend", mktme_publish, mktme_unpublish },
	{ "key type", mktme_key_type_init, mktme_key_type_exit },
	{ "/dev/mktme", mktme_dev_start, NULL },
};

static int __init mktme_start(const struct mktme_backend *b)
{
	return mktme_run_steps(mktme_start_steps,
			       ARRAY_SIZE(mktme_start_steps), b);
}

static int __init mktme_init(void)
{
	const struct mktme_backend *b = NULL;
	int ret;

	switch (mktme_mode) {
	case MKTME_AUTO:
	case MKTME_HW:
		b = mktme_hw_probe();
		if (!b && mktme_mode == MKTME_HW)
			pr_err("mktme=hw but TME-MK is not usable\n");
		break;
	case MKTME_EMULATE:
		/* It encrypts nothing: only a kernel built for testing has it. */
		if (IS_ENABLED(CONFIG_MKTME_EMULATE))
			b = mktme_emu_probe();
		else
			pr_err("mktme=emulate refused: built without CONFIG_MKTME_EMULATE (the emulated backend encrypts nothing); mktme stays off\n");
		break;
	case MKTME_OFF:
		break;
	}

	if (b) {
		ret = mktme_start(b);
		if (ret) {
			pr_err("%s backend failed to start (%d)\n", b->name,
			       ret);
			b = NULL;
		}
	}
	if (b) {
		mktme_debugfs_init(b);
		pr_info("%s backend: %u KeyIDs%s\n", b->name, b->nr_keyids,
			b->encrypts ? "" : " (emulated: memory is NOT encrypted)");
	} else {
		pr_info("off\n");
	}

	ret = mktme_sysfs_init();
	if (ret)
		pr_warn("sysfs: %d\n", ret);
	return 0;
}
/* After misc (subsys_initcall) for /dev/mktme, and the PCONFIG probe. */
device_initcall(mktme_init);
