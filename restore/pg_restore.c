/* placeholder: not written yet */
typedef int placeholder_unused_t;
