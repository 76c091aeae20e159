/*
 * bakery_int.h - shared by the files of src/bakery only.
 */
#ifndef MZ_BAKERY_INT_H
#define MZ_BAKERY_INT_H

#include "cloud/local/local.h"

/* The local provider whose image store the bakery fills; NULL before
 * mz_bakery_start and after mz_bakery_stop (bakery.c). */
mz_local *mz__bakery_local(void);
/* The cloud the bakery stores images through (several nodes: the
 * database's image records, see src/cloud/cloud_images.c); may be NULL. */
struct mz_cloud *mz__bakery_cloud(void);

/* Registers findImageFromTags, upsertImageTags and deleteImage
 * (bakery_images.c). */
void mz__bakery_register_image_stages(void);

#endif
